"""Bad parameters raise one clear line naming the field and what is allowed."""

import pytest

from experiments.run import run
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
