"""Property-based checks: random valid parameters and seeds never break an invariant; random
invalid values always give the one-line error."""

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.run import run
from model import ParameterError, Parameters
from model.constants import MAX_SUPPLY
from model.parameters import allowed, parse_value
from model.parts.metrics import STOCKS

# Behavioural parameters drawn over their whole allowed ranges.
RANGES = {
    "fee_pool_share": (0.0, 1.0),
    "pool_payout_rate": (0.0, 0.5),
    "staking_requirement": (5_000.0, 50_000.0),
    "unlock_sell_share_strategic": (0.0, 1.0),
    "unlock_sell_share_ecosystem": (0.0, 1.0),
    "unlock_sell_share_treasury_ops": (0.0, 1.0),
    "unlock_sell_share_contributors": (0.0, 1.0),
    "impact_permanent_share": (0.0, 1.0),
    "impact_half_life_days": (0.5, 3650.0),
    "outside_depth_share": (0.0, 10.0),
    "max_trade_reserve_share": (0.001, 10.0),
    "stake_buy_share": (0.0, 1.0),
    "app_store_commission": (0.0, 1.0),
    "arbitrage_strength": (0.01, 1.0),
    "impact_persistence": (0.0, 1.0),
    "eth_volatility": (0.0, 2.0),
    "ref_volatility": (0.0, 2.0),
    "pro_conversion": (0.0, 0.05),
    "monthly_users_growth": (-1.0, 1.0),
    "demand_volatility": (0.0, 1.5),
    "node_entry_hurdle_apr": (-0.5, 1.0),
    "node_exit_hurdle_apr": (-1.0, 1.0),
    "max_entry_rate": (0.0, 0.2),
    "max_exit_rate": (0.0, 0.2),
    "reward_claim_rate": (0.0, 1.0),
    "exit_sell_share": (0.0, 1.0),
    "liquidation_rate": (0.0, 2.0),
    "stress_price_drop": (0.0, 0.95),
    "stress_exit_share": (0.0, 1.0),
    "node_opex_spread": (0.0, 2.0),
    "entry_hurdle_spread": (0.0, 1.0),
    "entrant_pool_nodes": (0.0, 20_000.0),
    "migrated_opex_factor": (0.1, 10.0),
    "migrated_hurdle_offset": (-1.0, 1.0),
    "migrated_hurdle_spread": (0.0, 1.0),
    "cliff_presell_share": (0.0, 1.0),
}


@st.composite
def valid_overrides(draw):
    names = draw(st.lists(st.sampled_from(sorted(RANGES)), min_size=1, max_size=6, unique=True))
    overrides = {n: draw(st.floats(*RANGES[n], allow_nan=False)) for n in names}
    overrides["launch_smoothing"] = draw(st.booleans())
    overrides["pol_after_review"] = draw(st.sampled_from(["keep", "pool", "treasury"]))
    overrides["pol_review_day"] = draw(st.integers(0, 400))
    overrides["stress_day"] = draw(st.integers(0, 400))
    overrides["initial_stake_sesh"] = draw(st.floats(0.0, 50e6))
    overrides["price_model"] = draw(st.sampled_from(["impact", "exogenous", "pool_only"]))
    overrides["drift_convention"] = draw(st.sampled_from(["median", "mean"]))
    overrides["pro_revenue_route"] = draw(st.sampled_from(["none", "pool"]))
    overrides["sns_deployed"] = draw(st.booleans())
    if {"node_exit_hurdle_apr", "node_entry_hurdle_apr"} & set(overrides):
        # the exit hurdle is at most the entry hurdle (either may be drawn, the other default)
        entry = overrides.get("node_entry_hurdle_apr", 0.10)
        overrides["node_exit_hurdle_apr"] = min(overrides.get("node_exit_hurdle_apr", 0.0), entry)
    return overrides


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=valid_overrides(), seed=st.integers(0, 2**32 - 1))
def test_random_valid_parameters_keep_every_invariant(overrides, seed):
    frame = run(runs=1, years=1.2, seed=seed, engine="radcad", overrides=overrides)
    stocks = frame[list(STOCKS)]
    assert np.max(np.abs(stocks.sum(axis=1) / MAX_SUPPLY - 1)) < 1e-6
    assert (stocks >= -1e-6).all().all()
    pool = frame["reward_pool"].to_numpy()
    inflow, emission = frame["daily_pool_inflow"].to_numpy(), frame["daily_emission"].to_numpy()
    np.testing.assert_allclose(
        pool[1:], pool[:-1] + inflow[1:] - emission[1:], rtol=1e-9, atol=1e-6
    )
    assert (emission[1:] <= pool[:-1] + inflow[1:] + 1e-9).all()
    k = (frame["amm_sesh"] * frame["amm_quote"]).to_numpy()
    assert (np.diff(k) >= -1e-9 * k[1:]).all()
    assert np.isfinite(frame.drop(columns=["subset", "run", "timestep"]).to_numpy()).all()


NUMERIC = [
    name
    for name, info in Parameters.field_info().items()
    if not info["choices"] and info["min"] is not None
]


@st.composite
def invalid_override(draw):
    name = draw(st.sampled_from(NUMERIC))
    info = Parameters.field_info()[name]
    bad = draw(
        st.one_of(
            st.floats(min_value=info["max"], exclude_min=True, allow_infinity=False).filter(
                lambda v: v > info["max"]
            ),
            st.floats(max_value=info["min"], exclude_max=True, allow_infinity=False).filter(
                lambda v: v < info["min"]
            ),
            st.just(float("nan")),
            st.text(max_size=5),
        )
    )
    return name, bad


@settings(max_examples=60, deadline=None)
@given(case=invalid_override())
def test_random_invalid_values_give_the_clear_error(case):
    name, bad = case
    with pytest.raises(ParameterError) as error:
        Parameters.from_overrides({name: bad})
    message = str(error.value)
    assert f"'{name}'" in message and allowed(name) in message and "\n" not in message


# any text a user can type for a number: parsed to a value of the parameter's kind in its range, or
# refused with the one-line message (never ValueError/OverflowError from a float-to-int conversion)
NUMBER_TEXT = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        ["nan", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "sNaN"]
    ),
    st.floats().map(repr),
    st.integers(-(10**40), 10**40).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.builds("{}e{}".format, st.integers(-(10**6), 10**6), st.integers(-(10**12), 10**12)),
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NUMERIC), text=NUMBER_TEXT)
def test_any_text_parses_into_the_range_or_gives_the_clear_error(name, text):
    info = Parameters.field_info()[name]
    try:
        value = parse_value(name, text)
    except ParameterError as error:
        message = str(error)
        assert message.startswith(f"invalid parameter '{name}': must be {allowed(name)}, got ")
        assert "\n" not in message
        return
    assert type(value) is (int if info["integer"] else float)
    assert math.isfinite(value) and info["min"] <= value <= info["max"]
    if info["integer"]:  # exact: the text's own digits, never a float's
        assert Decimal(text.strip().replace("_", "")) == value
