"""Every published figure in the validation table is reproduced by the model."""

import math

import pytest

from experiments.analysis.validation import validation_table


@pytest.fixture(scope="module")
def table():
    return validation_table(seed=0)


def test_table_covers_the_published_figures(table):
    figures = " | ".join(table["figure"])
    for needle in [
        "Circulating at TGE",
        "month 12",
        "month 24",
        "month 36",
        "Day-1 network reward",
        "ramp",
        "released in a year",
        "half-life",
        "Per-node daily reward",
    ]:
        assert needle in figures
    assert table["source"].str.len().min() > 5


def test_every_figure_agrees(table):
    disagree = table[~table["agrees"]]
    assert disagree.empty, disagree.to_string()


def test_yearly_release_and_half_life_values(table):
    by_figure = table.set_index("figure")["model"]
    daily = 0.151 / 365  # one payout a day on the balance
    assert by_figure["Share of pool released in a year, no inflows"] == pytest.approx(
        1 - (1 - daily) ** 365, rel=1e-9
    )
    half_life_days = math.ceil(math.log(0.5) / math.log(1 - daily))
    assert by_figure["Pool half-life with no inflows (years)"] == pytest.approx(
        half_life_days / 365
    )
