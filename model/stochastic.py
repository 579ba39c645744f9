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

import threading
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


def stack_drivers(seed: int, subsets, runs, timesteps: int, keep: bool = False):
    """Draws for many trajectories at once, day-major: shape (timesteps + 1, trajectories), so a
    day's draws for every trajectory are one contiguous row; trajectories that share a (subset,
    run) (common random numbers) share one draw. The arrays are read-only. With `keep`, a stack
    that fits in STACK_CACHE_BYTES is kept (the last STACK_CACHE_SIZE of them), so a caller that
    runs the same trajectories again with other parameters (the explorer, view after view) does
    not draw them again; a batch of a streamed run, never run twice, is not kept."""
    key = (int(seed), tuple(map(int, subsets)), tuple(map(int, runs)), int(timesteps))
    with _STACKS_LOCK:  # the explorer's server computes views in threads
        stacked = _STACKS.get(key)
    if stacked is not None:
        return stacked
    stacked = _stack(*key)
    if keep and len(DRIVERS) * len(key[1]) * (timesteps + 1) * 8 <= STACK_CACHE_BYTES:
        with _STACKS_LOCK:
            _STACKS[key] = stacked
            while len(_STACKS) > STACK_CACHE_SIZE:
                del _STACKS[next(iter(_STACKS))]  # the oldest
    return stacked


# A memo of recent stacks (a pure function of its key: the same numbers either way).
STACK_CACHE_BYTES = 64_000_000
STACK_CACHE_SIZE = 2
_STACKS: dict[tuple, dict[str, np.ndarray]] = {}
_STACKS_LOCK = threading.Lock()


def _stack(seed: int, subsets: tuple, runs: tuple, timesteps: int) -> dict[str, np.ndarray]:
    pairs = list(zip(subsets, runs, strict=True))
    unique = {pair: draw_drivers(seed, *pair, timesteps) for pair in dict.fromkeys(pairs)}
    stacked = {}
    for name in DRIVERS:
        stacked[name] = np.stack([unique[pair][name] for pair in pairs], axis=1)
        stacked[name].flags.writeable = False
    return stacked


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
