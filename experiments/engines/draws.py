"""The random draws an engine hands the model, as `params["_drivers"]`.

The model (`model.stochastic`) says which drivers there are and how one trajectory's draws come
from its (subset, run) seed; it reads them through `params["_drivers"]`, a function of the state
that returns the draws of the trajectory (or trajectories) the state belongs to, one array per
driver indexed by day. How an engine finds those draws is engine knowledge, kept here:

- `TrajectoryDraws` for engines that step one trajectory at a time (cadCAD, radCAD): the run
  number is in the state, in cadCAD's numbering (`run_number`), and each trajectory's draws are
  drawn once and kept for its days.
- `StackedDraws` for the vectorized engine: every trajectory's draws stacked day-major
  (`stack_drivers`), the same table for every day.

Both are plain picklable objects: radCAD's parallel backends send the params to other processes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.stochastic import DRIVERS, draw_drivers


def run_number(label, runs: int, first_run: int = 0):
    """The run a cadCAD or radCAD run label stands for (an int or an array of them).

    cadCAD numbers a one-run sweep's runs 1, 2, ... across its simulations: labels fold back
    into 1..runs. A caller running a few runs at a time numbers them from `first_run` + 1.
    """
    return (label - 1) % runs + 1 + first_run


@dataclass(frozen=True)
class TrajectoryDraws:
    """The draws of the run a one-trajectory-at-a-time engine is stepping (of `runs` runs
    numbered from `first_run` + 1, in `subset`'s seeds)."""

    seed: int
    subset: int
    runs: int
    timesteps: int
    first_run: int = 0

    def __call__(self, state) -> dict[str, np.ndarray]:
        run = run_number(int(state["run"]), self.runs, self.first_run)
        return _cached_drivers(self.seed, self.subset, run, self.timesteps)


@dataclass(frozen=True, eq=False)
class StackedDraws:
    """Every trajectory's draws at once (`stack_drivers`): shape (days, trajectories) each."""

    table: dict[str, np.ndarray]

    def __call__(self, state) -> dict[str, np.ndarray]:
        return self.table


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
