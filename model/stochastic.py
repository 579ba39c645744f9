"""Stochastic drivers, drawn per (subset, run) from one master seed.

Every random number the model uses is drawn here, up front, as standard normal or uniform arrays
over the whole horizon, from `numpy.random.SeedSequence(seed, spawn_key=(subset, run))`: the same
seed gives the same numbers on every engine and backend, and nothing touches global random state.
Policies scale the raw draws by their parameters, so a sweep over a volatility reuses the shape of
the shocks.

Engines that step one run at a time (cadCAD, radCAD) look the draws up by the run and subset they
find in the state; the vectorized engine passes a pre-stacked table in `params["_drivers"]`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from model.utils import today

NORMAL_DRIVERS = ("eth_shock", "ref_shock", "demand_shock", "hurdle_shock")
UNIFORM_DRIVERS = ("entry_draw", "exit_draw", "liquidation_draw")
DRIVERS = NORMAL_DRIVERS + UNIFORM_DRIVERS


def run_seed_sequence(seed: int, subset: int, run: int) -> np.random.SeedSequence:
    """The seed of one trajectory: run numbers start at 1, as in cadCAD and radCAD."""
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


@lru_cache(maxsize=32)
def _cached_drivers(seed: int, subset: int, run: int, timesteps: int):
    return draw_drivers(seed, subset, run, timesteps)


def stack_drivers(seed: int, subsets, runs, timesteps: int) -> dict[str, np.ndarray]:
    """Draws for many trajectories at once, day-major: shape (timesteps + 1, trajectories), so a
    day's draws for every trajectory are one contiguous row."""
    tables = [draw_drivers(seed, s, r, timesteps) for s, r in zip(subsets, runs, strict=True)]
    return {name: np.stack([t[name] for t in tables], axis=1) for name in DRIVERS}


def shock(params: dict, state: dict, name: str):
    """Today's draw `name` for the trajectory (or trajectories) that `state` belongs to."""
    day = today(state)
    table = params.get("_drivers")
    if table is not None:
        return table[name][day]
    # cadCAD numbers a one-run sweep's runs 1, 2, ...; fold labels back into 1..runs.
    # A caller running a few runs at a time numbers them from `_first_run` + 1.
    run = (int(state["run"]) - 1) % int(params["_runs"]) + 1 + int(params.get("_first_run", 0))
    drivers = _cached_drivers(params["_seed"], params["_subset"], run, params["_timesteps"])
    return drivers[name][day]
