"""Constant-product AMM helpers against hand-computed values."""

import numpy as np
import pytest

from model.parts.amm import (
    add_liquidity_single_sided,
    input_to_reach_ratio,
    price_of_token,
    swap,
    swap_output,
    zap_swap_amount,
)


def test_swap_output_hand_computed():
    # 1,000 in with a 0.3% fee against 100,000 / 50: 50 * 997 / (100,000 + 997)
    assert swap_output(100_000.0, 50.0, 1_000.0, 0.003) == pytest.approx(50 * 997 / 100_997)


def test_swap_without_fee_keeps_k_and_with_fee_grows_it():
    x, y, _ = swap(100_000.0, 50.0, 1_000.0, 0.0)
    assert x * y == pytest.approx(100_000.0 * 50.0, rel=1e-14)
    x, y, _ = swap(100_000.0, 50.0, 1_000.0, 0.003)
    assert x * y > 100_000.0 * 50.0


def test_zero_input_is_a_no_op():
    assert swap(10.0, 20.0, 0.0, 0.003) == (10.0, 20.0, 0.0)


@pytest.mark.parametrize("fee", [0.0, 0.003, 0.01])
def test_input_to_reach_ratio_lands_on_target(fee):
    reserve_in, reserve_out = 200.0, 5_000_000.0
    target = 1.5 * reserve_in / reserve_out
    amount = input_to_reach_ratio(reserve_in, reserve_out, target, fee)
    new_in, new_out, _ = swap(reserve_in, reserve_out, amount, fee)
    assert new_in / new_out == pytest.approx(target, rel=1e-12)


def test_input_to_reach_ratio_is_zero_when_target_is_below():
    assert input_to_reach_ratio(200.0, 5e6, 0.5 * 200.0 / 5e6, 0.003) == 0.0


def test_zap_deposits_in_the_pool_ratio_with_nothing_left_over():
    reserve_sesh, reserve_eth, amount, fee = 5_000_000.0, 196.0, 80_000.0, 0.003
    swapped = zap_swap_amount(reserve_sesh, amount, fee)
    after_sesh, after_eth, proceeds = swap(reserve_sesh, reserve_eth, swapped, fee)
    assert (amount - swapped) / proceeds == pytest.approx(after_sesh / after_eth, rel=1e-12)
    # Without a fee the textbook answer is R(sqrt(1 + A/R) - 1).
    no_fee = zap_swap_amount(reserve_sesh, amount, 0.0)
    assert no_fee == pytest.approx(reserve_sesh * (np.sqrt(1 + amount / reserve_sesh) - 1))


def test_add_liquidity_mints_pro_rata_and_keeps_price_of_post_swap_pool():
    sesh, eth, lp = 5_000_000.0, 196.0, 31_305.0
    new_sesh, new_eth, new_lp, minted = add_liquidity_single_sided(sesh, eth, lp, 50_000.0, 0.003)
    assert new_sesh == pytest.approx(sesh + 50_000.0)
    assert new_eth == pytest.approx(eth, rel=1e-12)  # the ETH side only gains what the swap gave
    assert minted / new_lp == pytest.approx(
        (new_sesh - (sesh + zap_swap_amount(sesh, 50_000.0, 0.003))) / new_sesh
    )
    assert new_sesh * new_eth > sesh * eth


def test_helpers_work_on_arrays():
    reserves = np.array([1e6, 2e6, 3e6])
    out = swap_output(reserves, np.array([10.0, 20.0, 30.0]), np.array([0.0, 1e4, 2e4]), 0.003)
    assert out.shape == (3,) and out[0] == 0.0
    assert np.all(price_of_token(reserves, np.array([10.0, 20.0, 30.0])) == 1e-5)
