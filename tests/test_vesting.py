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
