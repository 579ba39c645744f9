"""Every published figure in the validation table is reproduced by the model."""

import pytest

from experiments.validation import validation_table


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
    assert by_figure["Share of pool released in a year, no inflows"] == pytest.approx(
        0.1402, abs=2e-4
    )
    assert by_figure["Pool half-life with no inflows (years)"] == pytest.approx(4.59, abs=0.01)
