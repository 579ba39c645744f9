"""The vectorized engine: every trajectory of an experiment stepped at once, as numpy arrays.

cadCAD and radCAD walk one (subset, run) trajectory at a time through Python dicts, so the cost of
a day is paid once per trajectory. Here each state variable and each parameter is an array with one
element per trajectory (all subsets x all runs), and the same `partial_state_update_blocks` list is
walked once per day: the model's functions are numpy expressions without Python branches on state,
so one call computes the day for every trajectory. Randomness comes from the same per-(subset, run)
seeds (`model.stochastic.stack_drivers`), so the frame equals cadCAD's to float rounding.

Trajectory i is subset i // runs, run i % runs + 1 (runs are numbered from 1, as cadCAD does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from experiments.run import INDEX_COLUMNS, INTERNAL_STATE
from model import Parameters, initial_state, partial_state_update_blocks
from model.stochastic import stack_drivers


def run_vectorized(
    parameter_sets: Sequence[Parameters],
    runs: int,
    timesteps: int,
    seed: int,
    first_subset: int = 0,
) -> pd.DataFrame:
    """All subsets x runs for `timesteps` days. One row per (subset, run, timestep), day 0 = TGE.

    The frame has the raw shape `experiments.run.tidy` accepts: subset, run, timestep, then every
    recorded state variable as float64, ordered by subset, run, timestep. Subset numbers (and so
    the seeds) start at `first_subset`, as in `experiments.run.simulate`.
    """
    params = stacked_params(parameter_sets, runs, seed, timesteps, first_subset)
    state = stacked_initial_state(parameter_sets, runs)
    recorder = Recorder(recorded_variables(state), len(parameter_sets) * runs, timesteps)
    recorder.record(0, state)
    blocks = compile_blocks(partial_state_update_blocks)
    shapes = {name: np.shape(value) for name, value in state.items()}
    for day in range(1, timesteps + 1):
        state = step_day(params, state, blocks, shapes, day)
        recorder.record(day, state)
    return recorder.frame(params["_subset"], trajectory_runs(len(parameter_sets), runs))


def stacked_params(
    parameter_sets: Sequence[Parameters],
    runs: int,
    seed: int,
    timesteps: int,
    first_subset: int = 0,
) -> dict:
    """One params dict: each model parameter an array of shape (trajectories,).

    Values keep their type (float, int, bool or str arrays), so comparisons such as
    `day == stress_day` or `pol_after_review == "pool"` mean what they mean for one scalar run.
    `_drivers` holds every trajectory's random draws, which `model.stochastic.shock` reads.
    """
    dicts = [p.to_dict() for p in parameter_sets]
    params = {
        name: np.repeat(np.asarray([d[name] for d in dicts]), runs) for name in Parameters.names()
    }
    subsets = np.repeat(np.arange(len(parameter_sets)) + first_subset, runs)
    run_numbers = trajectory_runs(len(parameter_sets), runs)
    params.update(
        _subset=subsets,
        _seed=int(seed),
        _runs=int(runs),
        _timesteps=int(timesteps),
        _drivers=stack_drivers(seed, subsets, run_numbers, timesteps),
    )
    return params


def trajectory_runs(subsets: int, runs: int) -> np.ndarray:
    """The run number (from 1) of each trajectory, runs innermost."""
    return np.tile(np.arange(1, runs + 1), subsets)


def stacked_initial_state(parameter_sets: Sequence[Parameters], runs: int) -> dict:
    """Each subset's TGE state, repeated for its runs: shape (trajectories,) or (trajectories, k)."""
    states = [initial_state(p) for p in parameter_sets]
    return {
        name: np.repeat(np.stack([np.asarray(s[name]) for s in states]), runs, axis=0)
        for name in states[0]
    }


def recorded_variables(state: dict) -> list[str]:
    """The state variables that are results (internal bookkeeping arrays are not)."""
    return [name for name in state if name not in INTERNAL_STATE]


def compile_blocks(blocks: list[dict]) -> list[tuple[list, list]]:
    """(policies, state updates) per block, in the order cadCAD calls them."""
    return [(list(b["policies"].values()), list(b["variables"].values())) for b in blocks]


def block_signal(params: dict, substep: int, state: dict, policies: list) -> dict:
    """Every policy's signals, summed by key in policy order (cadCAD's default `policy_ops`)."""
    signal = {}
    for policy in policies:
        for key, value in policy(params, substep, [], state).items():
            signal[key] = signal[key] + value if key in signal else value
    return signal


def step_day(params: dict, state: dict, blocks: list, shapes: dict, day: int) -> dict:
    """One day for every trajectory: each block in order, as cadCAD runs a day.

    Every update reads the state the block started from. Each substep builds a new state dict and
    never writes into an array, so recorded values and earlier states stay valid.
    """
    for substep, (policies, updates) in enumerate(blocks, start=1):
        signal = block_signal(params, substep, state, policies)
        new_state = dict(state)
        for update in updates:
            name, value = update(params, substep, [], state, signal)
            new_state[name] = _shaped(value, shapes[name])
        new_state["timestep"] = day
        state = new_state
    return state


def _shaped(value, shape: tuple):
    """The value as an array of the variable's shape (a policy may return a plain scalar)."""
    if np.shape(value) == shape:
        return value
    return np.full(shape, value)


class Recorder:
    """End-of-day values of the recorded variables, written into one preallocated float block.

    The block is laid out (variable, trajectory, timestep), so the finished frame is a view of it in
    (subset, run, timestep) row order, without copying the results again.
    """

    def __init__(self, variables: list[str], trajectories: int, timesteps: int):
        self.variables = variables
        self.values = np.empty((len(variables), trajectories, timesteps + 1))

    def record(self, timestep: int, state: dict) -> None:
        for row, name in zip(self.values, self.variables, strict=True):
            row[:, timestep] = state[name]

    def frame(self, subsets: np.ndarray, run_numbers: np.ndarray) -> pd.DataFrame:
        count, trajectories, steps = self.values.shape
        columns = self.values.reshape(count, trajectories * steps).T
        frame = pd.DataFrame(columns, columns=self.variables, copy=False)
        index = {
            "subset": np.repeat(subsets, steps),
            "run": np.repeat(run_numbers, steps),
            "timestep": np.tile(np.arange(steps), trajectories),
        }
        for position, name in enumerate(INDEX_COLUMNS):
            frame.insert(position, name, index[name])
        return frame
