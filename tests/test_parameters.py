"""Bad parameters raise one clear line naming the field and what is allowed."""

import pandas as pd
import pytest

from experiments.engines import registry
from experiments.engines.registry import DEFAULT_ENGINE, RunSpec
from experiments.run import run, run_spec, simulate, simulate_kpis
from model import ParameterError, Parameters
from model.parameters import parse_value


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"fee_pool_share": 1.5}, "invalid parameter 'fee_pool_share': must be a number in [0, 1]"),
        ({"fee_pool_share": -0.1}, "'fee_pool_share': must be a number in [0, 1]"),
        ({"pool_payout_rate": "high"}, "'pool_payout_rate': must be a number in [0, 1]"),
        ({"staking_requirement": 0}, "'staking_requirement': must be a number in [1000, 1e+06]"),
        ({"launch_smoothing": "yes"}, "'launch_smoothing': must be true or false"),
        ({"stress_day": 10.5}, "'stress_day': must be an integer in [0, 100000]"),
        ({"pol_after_review": "burn"}, "must be one of keep, pool, treasury"),
        ({"amm_fee": float("nan")}, "'amm_fee': must be a number"),
        ({"reward_sell_share": 0.7, "reward_restake_share": 0.5}, "must sum to at most 1"),
        (
            {"fee_pool_shar": 0.9},
            "unknown parameter 'fee_pool_shar'; did you mean 'fee_pool_share'?",
        ),
        ({"initial_stake_sesh": 90e6}, "must fit in the 79,000,000 unlocked SESH"),
    ],
)
def test_invalid_overrides_raise_one_clear_line(overrides, message):
    with pytest.raises(ValueError) as error:
        Parameters.from_overrides(overrides)
    assert isinstance(error.value, ParameterError)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_run_rejects_bad_overrides_before_simulating():
    with pytest.raises(ParameterError, match="fee_pool_share"):
        run(overrides={"fee_pool_share": 2})


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"runs": 0}, "invalid runs: must be an integer >= 1"),
        ({"years": -1}, "invalid years"),
        ({"seed": -3}, "invalid seed"),
        ({"engine": "spark"}, "invalid engine: must be one of"),
        ({"backend": "gpu"}, "invalid backend"),
    ],
)
def test_run_rejects_bad_settings(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        run(**kwargs)


def test_run_settings_are_the_run_specs_with_the_registrys_default_engine():
    spec = RunSpec(runs=2, years=0.05, seed=3)
    assert spec.engine == DEFAULT_ENGINE == "vectorized"
    reference = registry.simulate([Parameters()], spec)
    by_keyword = run(runs=2, years=0.05, seed=3)
    pd.testing.assert_frame_equal(by_keyword, reference, check_exact=True)
    # a spec, with keywords replacing its fields
    by_spec = simulate([Parameters()], RunSpec(runs=2, years=0.05, seed=99), seed=3)
    pd.testing.assert_frame_equal(by_spec, reference, check_exact=True)
    assert run_spec(spec, engine="radcad") == RunSpec(2, 0.05, 3, engine="radcad")


def test_an_unknown_run_setting_names_the_known_ones():
    with pytest.raises(ParameterError, match="unknown run setting 'rnus': must be one of runs,"):
        run(rnus=2)
    with pytest.raises(ParameterError, match="unknown run setting 'first_runs'"):
        simulate_kpis([Parameters()], first_runs=1)


def test_parse_value_converts_command_line_strings():
    assert parse_value("fee_pool_share", "1.0") == 1.0
    assert parse_value("stress_day", "1_800") == 1800
    assert parse_value("launch_smoothing", "off") is False
    assert parse_value("pol_after_review", "pool") == "pool"
    with pytest.raises(ParameterError, match="'fee_pool_share': must be a number"):
        parse_value("fee_pool_share", "lots")


def test_every_field_documents_unit_meaning_and_source():
    for name, info in Parameters.field_info().items():
        assert info["unit"] and info["meaning"] and info["source"], name


def test_defaults_are_the_documented_facts():
    p = Parameters()
    assert p.staking_requirement == 25_000
    assert p.pool_payout_rate == 0.151
    assert p.fee_pool_share == 0.9
    assert p.launch_smoothing is True


# --- non-finite, huge and long-integer values on every path (issue 19, sections 4 and 6) --------

# (parameter, text): integer days given nan/inf/1e400 or a 29-digit integer, floats given nan/inf
NON_FINITE_OR_HUGE = [
    ("pol_review_day", "nan"),
    ("stress_day", "nan"),
    ("stress_day", "inf"),
    ("stress_day", "-inf"),
    ("pro_launch_day_earliest", "1e400"),
    ("sns_launch_day_latest", "1e99999999999"),
    ("stress_day", "12345678901234567890123456789"),
    ("eth_volatility", "nan"),
    ("eth_volatility", "inf"),
    ("ref_volatility", "1e400"),
    ("initial_monthly_users", "12345678901234567890123456789"),
]


@pytest.mark.parametrize("name, text", NON_FINITE_OR_HUGE)
def test_parse_value_refuses_non_finite_and_out_of_range_text_as_typed(name, text):
    with pytest.raises(ParameterError) as error:
        parse_value(name, text)
    message = str(error.value)
    assert message.startswith(f"invalid parameter '{name}': must be ")
    assert message.endswith(f"got {text!r}")  # what was typed, never its float
    assert "in [" in message and "\n" not in message


def test_parse_value_reads_integers_exactly():
    assert parse_value("stress_day", "100000") == 100_000
    assert parse_value("stress_day", "1e3") == 1000
    assert parse_value("stress_day", "1000.0") == 1000
    assert type(parse_value("stress_day", "1e3")) is int
    with pytest.raises(ParameterError, match="got '100001'"):
        parse_value("stress_day", "100001")
    with pytest.raises(ParameterError, match="must be an integer"):
        parse_value("stress_day", "5.5")


@pytest.mark.parametrize(
    "name, value",
    [
        ("stress_day", float("nan")),
        ("pol_review_day", float("inf")),
        ("stress_day", 10**400),
        ("stress_day", 12345678901234567890123456789),
        ("stress_day", 2**53 + 1),
        ("eth_volatility", float("nan")),
        ("eth_volatility", float("-inf")),
        ("initial_eth_usd", 10**400),
    ],
)
def test_python_api_refuses_non_finite_and_huge_numbers(name, value):
    with pytest.raises(ParameterError) as error:
        Parameters(**{name: value})
    message = str(error.value)
    assert message.startswith(f"invalid parameter '{name}': must be ")
    assert "in [" in message and "\n" not in message and len(message) < 300


@pytest.mark.parametrize(
    "setting",
    ["pol_review_day=nan", "stress_day=nan", "stress_day=inf", "stress_day=1e400"]
    + ["stress_day=12345678901234567890123456789", "eth_volatility=nan"],
)
def test_cli_set_refuses_non_finite_and_huge_values_in_one_line(setting, capsys, tmp_path):
    from experiments import cli

    out = tmp_path / "out"
    code = cli.main(
        ["run", "baseline", "--runs", "1", "--years", "0.01", "--set", setting, "--out", str(out)]
    )
    err = capsys.readouterr().err
    name, _, text = setting.partition("=")
    assert code == 2
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"error: invalid parameter '{name}': must be ")
    assert f"got {text!r}" in err
    assert not out.exists()


def test_explorer_query_shows_the_parameter_message_for_non_finite_values():
    from experiments.explorer.state import parse_query

    view, errors = parse_query("?stress_day=nan&b.pol_review_day=1e400&b.eth_volatility=inf")
    assert errors == {
        "stress_day": "invalid parameter 'stress_day': must be an integer in [0, 100000], "
        "got 'nan'",
        "b.pol_review_day": "invalid parameter 'pol_review_day': must be an integer in "
        "[0, 100000], got '1e400'",
        "b.eth_volatility": "invalid parameter 'eth_volatility': must be a number in [0, 5], "
        "got 'inf'",
    }
    assert "stress_day" not in view.a and not view.b
