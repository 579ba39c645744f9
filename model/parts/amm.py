"""Constant-product AMM math (Uniswap v2-style accounting of a v4 SESH/ETH pool).

Pure functions on reserves; they accept floats or numpy arrays. The fee is taken on the input and
stays in the pool, so every swap leaves k = x * y unchanged or larger.
"""

from __future__ import annotations

import numpy as np


def swap_output(reserve_in, reserve_out, amount_in, fee):
    """Tokens out for `amount_in` tokens in: dy = y * dx(1-f) / (x + dx(1-f))."""
    effective = amount_in * (1.0 - fee)
    return reserve_out * effective / (reserve_in + effective)


def swap(reserve_in, reserve_out, amount_in, fee):
    """New (reserve_in, reserve_out) and the amount paid out."""
    out = swap_output(reserve_in, reserve_out, amount_in, fee)
    return reserve_in + amount_in, reserve_out - out, out


def _positive_root(a, b, c):
    """The root x >= 0 of a*x^2 + b*x - c = 0 for a, b > 0 and c >= 0, without cancellation."""
    c = np.maximum(c, 0.0)
    return 2.0 * c / (b + np.sqrt(b * b + 4.0 * a * c))


def input_to_reach_ratio(reserve_in, reserve_out, target_ratio, fee):
    """Input that moves reserve_in / reserve_out up to `target_ratio` (0 if it is already there).

    After an input x: in' = in + x and out' = in*out / (in + x(1-f)), so
    in'/out' = target  <=>  (1-f) x^2 + (2-f) in x + in^2 - target*in*out = 0.
    """
    a = 1.0 - fee
    b = (2.0 - fee) * reserve_in
    c = target_ratio * reserve_in * reserve_out - reserve_in * reserve_in
    return _positive_root(a, b, c)


def zap_swap_amount(reserve_in, amount, fee):
    """Of `amount` single-sided tokens, the part to swap so the rest and the proceeds match the pool.

    The zap rule for protocol-owned liquidity: swap s, then deposit (amount - s) with the swap's
    output, in the pool's post-swap ratio, leaving nothing over:
    (1-f) s^2 + (2-f) R s - amount * R = 0.
    """
    return _positive_root(1.0 - fee, (2.0 - fee) * reserve_in, amount * reserve_in)


def add_liquidity_single_sided(reserve_token, reserve_other, lp_supply, amount, fee):
    """Zap `amount` of the token into the pool.

    Returns (reserve_token, reserve_other, lp_supply, lp_minted) after the swap and the deposit.
    """
    swapped = zap_swap_amount(reserve_token, amount, fee)
    reserve_token, reserve_other, proceeds = swap(reserve_token, reserve_other, swapped, fee)
    deposit = amount - swapped
    minted = lp_supply * deposit / reserve_token
    return reserve_token + deposit, reserve_other + proceeds, lp_supply + minted, minted


def price_of_token(reserve_token, reserve_other):
    """Marginal price of the token in units of the other asset."""
    return reserve_other / reserve_token


def capped_swap(reserve_in, reserve_out, amount_in, fee, cap):
    """A swap of at most `cap` times the input reserve; the rest of the order is not executed.

    Returns (reserve_in, reserve_out, amount out, unmet input). The output is at most
    reserve_out * cap / (1 + cap) < reserve_out, so no reserve reaches zero.
    """
    wanted = np.maximum(amount_in, 0.0)
    executed = np.minimum(wanted, cap * reserve_in)
    reserve_in, reserve_out, out = swap(reserve_in, reserve_out, executed, fee)
    return reserve_in, reserve_out, out, wanted - executed
