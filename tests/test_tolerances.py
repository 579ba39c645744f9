"""The cross-engine and golden tolerances: what they accept follows from float64 arithmetic."""

import math

import numpy as np
import pandas as pd
import pytest

from experiments.analysis import tolerances as tol
from model.constants import MAX_SUPPLY

pytestmark = pytest.mark.engines


def _frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    index = {"subset": [0] * n, "run": [1] * n, "timestep": list(range(n))}
    return pd.DataFrame({**index, **columns})


def test_the_constants_are_float64_facts():
    assert tol.EPS == 2.0**-52
    assert tol.ULP_AT_MAX_SUPPLY == pytest.approx(2.98e-8, rel=1e-3)
    assert MAX_SUPPLY + tol.ULP_AT_MAX_SUPPLY != MAX_SUPPLY  # one step at 240M
    assert MAX_SUPPLY + tol.ULP_AT_MAX_SUPPLY / 4 == MAX_SUPPLY  # below half a step: rounds back
    # 21 stock updates a day, counted from the model's blocks (not typed in): 17, and 4 of the
    # governance block (issue 21)
    assert tol.STOCK_UPDATES_PER_DAY == 21


def test_relative_tolerance_grows_with_the_days_of_compounding():
    assert tol.relative_tolerance(1) == tol.ULPS_PER_DAY * tol.EPS
    assert tol.relative_tolerance(0) == tol.relative_tolerance(1)
    assert tol.relative_tolerance(1826) == pytest.approx(1826 * tol.relative_tolerance(1))
    assert 1e-12 < tol.relative_tolerance(365) < 1e-11  # far tighter than the former 1e-9


def test_residual_tolerance_is_a_few_ulps_at_240m_times_the_root_of_the_updates():
    ulps = tol.residual_tolerance(np.array([1, 365, 1826])) / tol.ULP_AT_MAX_SUPPLY
    expected = 6 + 6 * math.sqrt(2) * 0.5 * np.sqrt(21 * np.array([1, 365, 1826]))
    np.testing.assert_allclose(ulps, expected)
    # well inside the invariant guard's conservation bound (1e-6 x 240M = 240 SESH)
    assert tol.residual_tolerance(36_500) < 2e-4  # 1.1e-4 with 21 updates a day


def test_a_residual_of_one_ulp_against_zero_is_close_but_not_any_residual():
    # the failure this module exists for: 2.98e-8 against 0.0 fails every relative tolerance
    one_ulp = tol.ULP_AT_MAX_SUPPLY
    a = _frame(conservation_residual=[0.0, one_ulp, -3 * one_ulp])
    b = _frame(conservation_residual=[0.0, 0.0, 0.0])
    assert tol.frames_close(a, b)
    assert not np.allclose(
        a["conservation_residual"], b["conservation_residual"], rtol=1e-9, atol=0
    )
    leak = _frame(conservation_residual=[0.0, 0.0, 0.01])  # a hundredth of a token: not rounding
    problems = tol.frame_differences(leak, b)
    assert len(problems) == 1 and problems[0].startswith("conservation_residual: 1 rows")
    assert "timestep=2" in problems[0]


def test_quantities_compare_relative_to_their_size_and_their_trajectory():
    price = np.array([0.1, 0.11, 0.12])
    nudged = price * (1 + 10 * tol.EPS)  # 10 ulps: within 64 a day
    assert tol.frames_close(_frame(price_usd=price), _frame(price_usd=nudged))
    off = price * (1 + 1e-9)  # what the old rtol allowed: a million times float rounding
    assert not tol.frames_close(_frame(price_usd=off), _frame(price_usd=price))
    # a net flow crossing zero: the difference counts against the flow's size in its trajectory
    flow = np.array([2.0e6, -1.5e6, 3.0e-3])
    rounded = flow + np.array([0.0, 0.0, 1e-9])  # a few ulps of 2e6 in a near-zero value
    assert tol.frames_close(_frame(daily_net_flow=flow), _frame(daily_net_flow=rounded))
    alone = _frame(daily_net_flow=flow[2:])  # without the large terms nothing excuses it
    assert not tol.frames_close(alone, _frame(daily_net_flow=rounded[2:]))


def test_a_stock_drained_to_a_remainder_keeps_the_rounding_of_its_larger_values():
    # measured (AVX-512 Xeon, a range-edge example with a stress-day exit wave, run 3): the
    # unstaking stock held 31.6M SESH, paid out over days; what is left after the last payout is
    # the rounding of those millions, and the engines' leftovers are half an ulp at 31.6M apart
    vectorized = [31615568.85529948, 1950332.5017155274, 70976.84433505544, 5.587935447692871e-09]
    radcad = [31615568.85529948, 1950332.5017155292, 70976.8443350573, 7.450580596923828e-09]
    a = _frame(unstaking=vectorized).assign(timestep=[193, 1022, 1023, 1024])
    b = _frame(unstaking=radcad).assign(timestep=[193, 1022, 1023, 1024])
    assert tol.frames_close(a, b)
    assert abs(radcad[3] - vectorized[3]) == np.spacing(31615568.85529948) / 2
    # judged by its own size the remainder differs by 25%: what failed the former rtol
    assert not tol.frames_close(a.iloc[3:], b.iloc[3:])


def test_columns_share_the_ledger_of_their_unit():
    # units as model.types.State annotates them: a daily flow of tokens or nodes is booked with
    # its amount
    assert tol.ledger_of("daily_fee_spent") == tol.ledger_of("circulating") == "SESH"
    # USD are not booked: a node's daily net USD is not measured against the market cap
    assert tol.ledger_of("node_net_usd_per_day") == tol.ledger_of("daily_fee_usd") == "USD/day"
    assert tol.ledger_of("pol_value_usd") == tol.ledger_of("market_cap_usd") == "USD"
    assert tol.ledger_of("daily_nodes_left") == tol.ledger_of("nodes") == "nodes"
    assert tol.ledger_of("pol_lp") == tol.ledger_of("amm_lp_supply") == "LP"
    assert tol.ledger_of("price_usd") == "USD/SESH" != tol.ledger_of("eth_usd")
    assert tol.ledger_of("not_a_state_variable") == "column not_a_state_variable"


def test_a_flow_capped_by_drained_wallets_carries_the_wallets_rounding():
    # measured (AVX-512 Xeon, range-edge example, day 352-354): the wallets were emptied, so
    # circulating - restake_pending cancelled; 4 ulps of 1.64M were left in the vectorized
    # engine and a negative remainder, clipped to 0, in radCAD. The next day's fees (5.8e-7
    # SESH wanted) bought what was left: 9.3e-10 against 0.0
    vectorized = _frame(
        circulating=[1644530.924320763, 1649057.2240246718, 1653581.651204595],
        restake_pending=[1644530.924320762, 1649057.2240246718, 1653581.651204595],
        daily_fee_spent=[5.7894965743e-07, 9.3132257e-10, 0.0],
    ).assign(timestep=[352, 353, 354])
    radcad = vectorized.assign(
        circulating=[1644530.9243207611, 1649057.2240246718, 1653581.651204595],
        daily_fee_spent=[5.7894965743e-07, 0.0, 0.0],
    )
    assert tol.frames_close(vectorized, radcad)
    # judged by the fee flows alone, 9.3e-10 against 0.0 is a disagreement
    flows = ["subset", "run", "timestep", "daily_fee_spent"]
    assert not tol.frames_close(vectorized[flows], radcad[flows])


def test_another_trajectory_does_not_lend_its_scale():
    a = pd.DataFrame(
        {"subset": [0, 0, 1, 1], "run": [1, 1, 1, 1], "timestep": [0, 1, 0, 1]}
    ).assign(staked=[1e8, 1e8, 1.0, 1.0])
    b = a.assign(staked=[1e8, 1e8, 1.0, 1.0 + 1e-9])
    assert not tol.frames_close(a, b)
    assert "subset=1" in tol.frame_differences(a, b)[0]


def test_labels_are_exact_and_nan_only_equals_nan():
    a = _frame(price_usd=[0.1, np.nan, np.inf])
    assert tol.frames_close(a, a.copy())
    assert not tol.frames_close(a, a.assign(price_usd=[0.1, 0.2, np.inf]))
    assert not tol.frames_close(a, a.assign(timestep=[0, 1, 3]))
    assert tol.frame_differences(a, a.drop(columns="price_usd"))[0].startswith("columns differ")
    assert tol.frame_differences(a, a.iloc[:2])[0].startswith("row counts differ")


def test_assert_frames_close_names_the_column():
    a = _frame(price_usd=[0.1, 0.2])
    with pytest.raises(AssertionError, match="price_usd: 1 rows apart"):
        tol.assert_frames_close(a, a.assign(price_usd=[0.1, 0.3]))


def test_golden_floors():
    days = 1826
    assert tol.kpi_floor("max_abs_conservation_residual", "p50", 1e-6, days)[0] == pytest.approx(
        tol.residual_tolerance(days)
    )
    paired = tol.kpi_floor("max_abs_conservation_residual", "paired_mean_difference", 0.0, days)
    assert paired[0] == pytest.approx(2 * tol.residual_tolerance(days))
    share = tol.kpi_floor("max_abs_conservation_residual", "paired_share_positive", 0.3, days)
    assert share[0] == 1.0 and "not compared" in share[1]
    assert tol.kpi_floor("reward_pool_5y", "n", 60, days)[0] == 0.0
    floor, reason = tol.kpi_floor("reward_pool_5y", "p50", 3e7, days)
    assert floor == pytest.approx(3e7 * tol.relative_tolerance(days)) and "ulps a day" in reason
    assert tol.kpi_floor("fee_parity_day", "mean", None, days)[0] == tol.relative_tolerance(days)


def test_values_close_for_one_block_of_one_day():
    # what the block-by-block check uses: one day's rounding at the size of the value's ledger
    assert tol.values_close("price_usd", 0.1, 0.1 * (1 + 2 * tol.EPS), days=1)
    assert not tol.values_close("price_usd", 0.1, 0.1 * (1 + 1e-12), days=1)
    assert tol.values_close("daily_net_flow", 1e-6, 1e-6 + 1e-9, days=1, scale=1.6e6)
    assert not tol.values_close("daily_net_flow", 1e-6, 1e-6 + 1e-9, days=1)
    queue = np.array([0.0, 5e6, 1e-3])
    assert tol.values_close("unstake_queue", queue, queue + [0.0, 0.0, 1e-9], 1, scale=5e6)
    assert tol.values_close("conservation_residual", 0.0, 3 * tol.ULP_AT_MAX_SUPPLY, days=1)
    assert tol.values_close("nodes", np.nan, np.nan, days=1)
    assert not tol.values_close("nodes", 1500.0, 1501.0, days=1, scale=1e8)
