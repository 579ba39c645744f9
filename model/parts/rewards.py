"""Node rewards, claims under the network cap, and what claimants do with the tokens.

Each day's emission is split equally among payable nodes (OXEND db_sqlite.cpp `add_rewards`: each
of the N payable nodes gets 1/N); within a node the operator takes `operator_fee` and the rest is
shared pro rata to stake. Rewards are credited to balances (`unclaimed_rewards`) and leave only by
`claimRewards`, which the contract limits network-wide to 1,000,000 SESH per 12 hours
(ServiceNodeRewards.sol). Returned stakes leave by the same path, so stake whose 15-day unlock has
ended waits in the same queue under the same cap.

The unstaking queue is an array: index 0 holds matured stake waiting for a claim, index k > 0
the stake that matures in k days.
"""

from __future__ import annotations

import numpy as np

from model.types import Number, Params, State


def reward_per_node(daily_emission, nodes):
    """Equal split: the docs' 0.151 * pool / (365 * nodes) when the emission is the pool rule."""
    return daily_emission / np.maximum(nodes, 1.0)


def operator_daily_reward(node_reward, operator_fee, operator_stake_share):
    """What a node's operator earns: the fee, then its pro-rata share of the remainder."""
    return node_reward * (operator_fee + (1.0 - operator_fee) * operator_stake_share)


def advance_queue(queue):
    """One day passes: stake maturing tomorrow becomes claimable. Returns (queue, matured)."""
    matured = queue[..., 0] + queue[..., 1]
    rest = queue[..., 2:]
    empty = np.zeros_like(queue[..., :1])
    return np.concatenate([matured[..., None], rest, empty], axis=-1), matured


def split_claims(reward_demand, stake_demand, cap):
    """Pay both kinds of claim pro rata when together they exceed the cap."""
    total = reward_demand + stake_demand
    scale = np.where(total > cap, cap / np.maximum(total, 1e-300), 1.0)
    return reward_demand * scale, stake_demand * scale


def policy_rewards(
    params: Params, substep: int, state_history: list, previous_state: State
) -> dict[str, Number]:
    """Decide the per-node reward, the day's claims under the cap, and what is sold or saved."""
    per_node = reward_per_node(previous_state["daily_emission"], previous_state["nodes"])
    queue, matured = advance_queue(previous_state["unstake_queue"])
    paid_rewards, paid_stake = split_claims(
        previous_state["unclaimed_rewards"] * params["reward_claim_rate"],
        matured,
        previous_state["gov_claim_cap_per_day"],  # the lever (model.parts.governance)
    )
    queue[..., 0] = matured - paid_stake  # `advance_queue` made a new array: the state's is kept
    sold = paid_rewards * params["reward_sell_share"] + paid_stake * params["exit_sell_share"]
    restaked = paid_rewards * params["reward_restake_share"]
    # sales settle at the opening price with wallets as counterparty: they enter the net flow
    return {
        "reward_per_node": per_node,
        "unstake_queue": queue,
        "daily_claimed": paid_rewards,
        "d_unclaimed_rewards": -paid_rewards,
        "d_unstaking": -paid_stake,
        "d_circulating": paid_rewards + paid_stake,
        "d_restake_pending": restaked,
        "d_daily_net_flow": -sold,
        "d_cum_sold": sold,
    }
