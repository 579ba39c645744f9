"""Lockup curves and the vesting policy against the genesis table's schedule."""

import numpy as np
import pytest

from model import Parameters, initial_state
from model.constants import (
    LOCKUP_A,
    LOCKUP_B,
    LOCKUP_D,
    LOCKUP_F,
    VESTING_WINDOWS,
    months_after_tge,
)
from model.derived import with_derived
from model.parts.vesting import policy_vesting, release_share, vested_fraction


def test_calendar_months_from_tge():
    assert months_after_tge(12) == 365  # 2026-05-21
    assert months_after_tge(24) == 730  # 2027-05-21
    assert months_after_tge(36) == 1096  # 2028-05-21, across 29 Feb 2028


def test_windows_follow_the_lockup_definitions():
    assert VESTING_WINDOWS["a"] == (729, 730)
    assert VESTING_WINDOWS["b"] == (365, 730)
    assert VESTING_WINDOWS["d"] == (365, 1096)
    assert VESTING_WINDOWS["f"] == (89, 90)


def test_linear_curve_hand_values():
    assert vested_fraction(365, 365, 730) == 0.0
    assert vested_fraction(547.5, 365, 730) == 0.5
    assert vested_fraction(900, 365, 730) == 1.0
    # B releases 1/365 of its total a day: ~107,761 SESH, the docs' 8.33% a month
    assert LOCKUP_B * (vested_fraction(400, 365, 730) - vested_fraction(399, 365, 730)) == (
        pytest.approx(LOCKUP_B / 365)
    )


def test_cliff_releases_everything_on_its_day():
    assert release_share(89, 89, 90) == 0.0
    assert release_share(90, 89, 90) == 1.0
    assert release_share(91, 89, 90) == 0.0


def test_release_share_of_remaining_reproduces_the_linear_total():
    locked, released = LOCKUP_D, 0.0
    for day in range(1, 1200):
        step = locked * release_share(day, 365, 1096)
        locked -= step
        released += step
        if day in (546, 730, 1096):
            assert released == pytest.approx(LOCKUP_D * vested_fraction(day, 365, 1096))
    assert locked == pytest.approx(0.0, abs=1e-6)


def _totals_by_day(days):
    state = initial_state(Parameters())
    params = with_derived(Parameters().to_dict())
    released = {}
    for day in range(1, max(days) + 1):
        signal = policy_vesting(params, None, [], state)
        for cls in "abdf":
            state[f"locked_{cls}"] += signal[f"d_locked_{cls}"]
        state["locked_staked_a"] += signal["d_locked_staked_a"]
        state["locked_staked_f"] += signal["d_locked_staked_f"]
        state["day"] = signal["day"]
        if day in days:
            released[day] = {
                cls: (
                    {"a": LOCKUP_A, "b": LOCKUP_B, "d": LOCKUP_D, "f": LOCKUP_F}[cls]
                    - state[f"locked_{cls}"]
                    - state.get(f"locked_staked_{cls}", 0.0)
                )
                for cls in "abdf"
            }
    return released


def test_policy_releases_match_schedule_at_12_24_36_months():
    r = _totals_by_day({89, 90, 365, 730, 1096})
    assert r[89]["f"] == 0.0 and r[90]["f"] == pytest.approx(LOCKUP_F)
    assert r[365] == pytest.approx({"a": 0.0, "b": 0.0, "d": 0.0, "f": LOCKUP_F})
    assert r[730]["a"] == pytest.approx(LOCKUP_A)
    assert r[730]["b"] == pytest.approx(LOCKUP_B)
    assert r[730]["d"] == pytest.approx(LOCKUP_D * 365 / 731)
    assert r[1096]["d"] == pytest.approx(LOCKUP_D)


def test_policy_sells_the_configured_share_of_wallet_releases():
    params = with_derived(Parameters(unlock_sell_share_ecosystem=0.25).to_dict())
    state = initial_state(Parameters(unlock_sell_share_ecosystem=0.25))
    state["day"] = 89  # the next day is F's cliff (testnet tokens sell as ecosystem grants)
    signal = policy_vesting(params, None, [], state)
    released = state["locked_f"]
    # the release reaches wallets; the sale settles with the market and enters the net flow
    assert signal["d_circulating"] == pytest.approx(released)
    assert signal["daily_net_flow"] == pytest.approx(-0.25 * released)
    # F tokens in nodes stay staked: they only stop counting as locked stake
    assert signal["d_locked_staked_f"] == -state["locked_staked_f"]
    assert np.isclose(signal["vesting_locked"], state["vesting_locked"] - released)


# --- the class A cliff sold over a window ------------------------------------------------------

CLIFF_SALE = 4_489_700 * 0.5  # the strategic part of A times its sell share: the one-day sale


def _cliff_sales(last_day=800, **overrides):
    """Step the vesting policy from TGE; each day's class A cliff sale (total sale less B, D)."""
    parameters = Parameters(**overrides)
    state = initial_state(parameters)
    params = with_derived(parameters.to_dict())
    sales = {}
    for day in range(1, last_day + 1):
        signal = policy_vesting(params, None, [], state)
        cliff = signal["d_cliff_sold"]
        released = signal["d_circulating"]
        for cls in "abdf":
            state[f"locked_{cls}"] += signal[f"d_locked_{cls}"]
        state["cliff_sold"] += cliff
        state["circulating"] += released
        state["day"] = signal["day"]
        sales[day] = (cliff, -signal["daily_net_flow"])
    return sales


def test_the_cliff_sale_over_its_window_equals_the_old_one_day_sale():
    one_day = _cliff_sales(cliff_sell_start_day=730, cliff_sell_end_day=730)
    window = _cliff_sales()
    assert one_day[730][0] == pytest.approx(CLIFF_SALE)
    assert sum(c for c, _ in one_day.values()) == pytest.approx(CLIFF_SALE)
    assert sum(c for c, _ in window.values()) == pytest.approx(CLIFF_SALE)
    # hand values: half over the 30 days 700-729, the rest over the 14 days 730-743
    assert window[700][0] == pytest.approx(CLIFF_SALE / 2 / 30)
    assert window[729][0] == pytest.approx(CLIFF_SALE / 2 / 30)
    assert window[730][0] == pytest.approx(CLIFF_SALE / 2 / 14)
    assert window[743][0] == pytest.approx(CLIFF_SALE / 2 / 14)
    # the linear releases sell as before: the day's total less the cliff's part is unchanged
    for day in (650, 700, 730, 743, 760):
        assert window[day][1] - window[day][0] == pytest.approx(one_day[day][1] - one_day[day][0])


def test_nothing_of_the_cliff_is_sold_outside_its_window():
    window = _cliff_sales()
    assert all(window[day][0] == 0.0 for day in range(1, 700))
    assert all(window[day][0] == 0.0 for day in range(744, 801))


def test_holders_presell_only_what_their_wallets_hold():
    # selling every unlocked strategic token, they keep none of B: nothing to sell ahead
    window = _cliff_sales(unlock_sell_share_strategic=1.0)
    assert all(window[day][0] == 0.0 for day in range(1, 730))
    assert sum(c for c, _ in window.values()) == pytest.approx(4_489_700.0)
    # keeping 95% of B (about 0.42M SESH strategic by day 729), they cannot presell the
    # 2.1M half of a 4.27M sale: the presale stops at what they hold, the rest follows the cliff
    kept = _cliff_sales(unlock_sell_share_strategic=0.95)
    total = 4_489_700 * 0.95
    ahead = sum(kept[day][0] for day in range(700, 730))
    held = 8_332_750 * (729 - 365) / 365 * 0.05
    assert ahead == pytest.approx(held, rel=0.01) and ahead < total / 2
    assert sum(c for c, _ in kept.values()) == pytest.approx(total)
