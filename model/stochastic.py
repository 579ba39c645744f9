"""Stochastic drivers, drawn per (subset, run) from one master seed.

Every random number the model uses is drawn here, up front, as standard normal or uniform arrays
over the whole horizon, from `numpy.random.SeedSequence(seed, spawn_key=(subset, run))`: the same
seed gives the same numbers on every engine and backend, and nothing touches global random state.
Policies scale the raw draws by their parameters, so a sweep over a volatility reuses the shape of
the shocks.

The policies read a day's draw with `shock`. Where the draws come from is the engine's business:
it puts in `params["_drivers"]` a function of the state that returns the draws of the
trajectory (or, stepping many at once, the trajectories) the state belongs to, one array per
driver indexed by day (see `experiments.engines.draws`).
"""

from __future__ import annotations

import numpy as np

from model.utils import today

# Each driver's stream is the child of the trajectory's seed at its index in `DRIVERS`: a new
# driver is appended at the END, so every older one keeps its stream (tests/test_demand.py).
NORMAL_DRIVERS = ("eth_shock", "ref_shock", "demand_shock", "hurdle_shock", "users_shock")
UNIFORM_DRIVERS = (
    "entry_draw",
    "exit_draw",
    "liquidation_draw",
    "pro_launch_draw",
    "sns_launch_draw",
)
DRIVERS = (
    "eth_shock",
    "ref_shock",
    "demand_shock",
    "hurdle_shock",
    "entry_draw",
    "exit_draw",
    "liquidation_draw",
    # appended (issue 21): monthly users' noise, the Pro and name-service launch days
    "users_shock",
    "pro_launch_draw",
    "sns_launch_draw",
)


def run_seed_sequence(seed: int, subset: int, run: int) -> np.random.SeedSequence:
    """The seed of one trajectory: run numbers start at 1."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(subset), int(run)))


def draw_drivers(seed: int, subset: int, run: int, timesteps: int) -> dict[str, np.ndarray]:
    """All draws of one trajectory, indexed by day (index 0 is unused: day 0 is the TGE state).

    Each driver has its own stream (a child of the trajectory's seed), so a day's draw does not
    depend on the horizon: a 1-year and a 5-year run share their first year exactly.
    """
    streams = run_seed_sequence(seed, subset, run).spawn(len(DRIVERS))
    draws = {}
    for name, stream in zip(DRIVERS, streams, strict=True):
        rng = np.random.default_rng(stream)
        normal = name in NORMAL_DRIVERS
        draws[name] = rng.standard_normal(timesteps + 1) if normal else rng.random(timesteps + 1)
    return draws


def shock(params: dict, state: dict, name: str):
    """Today's draw `name` for the trajectory (or trajectories) that `state` belongs to."""
    return params["_drivers"](state)[name][today(state)]
