"""The vectorized engine: every trajectory of an experiment stepped at once, as numpy arrays.

cadCAD and radCAD walk one (subset, run) trajectory at a time through Python dicts, so the cost of
a day is paid once per trajectory. Here each state variable and each parameter is an array with one
element per trajectory (all subsets x all runs), and the same `partial_state_update_blocks` list is
walked once per day: the model's functions are numpy expressions without Python branches on state
(their few branches are on the parameters or the day, the same for every trajectory of a call),
so one call computes the day for every trajectory. Randomness comes from the same per-(subset, run)
seeds (`experiments.engines.draws.stack_drivers`), so the frame equals cadCAD's to float rounding.

Trajectory i is subset i // runs, run i % runs + 1 (runs are numbered from 1, as cadCAD does).

Large experiments run in batches: a batch is a range of trajectory numbers. Each trajectory's
parameters, initial state and random draws depend only on its own (subset, run), and every model
function works element by element, so a batch gives exactly the numbers those trajectories have in
one call over all of them. That is what lets `experiments.engines.streaming` run batches one after
another with memory bounded by the batch (KPI-only streaming) or as Ray tasks, and concatenate the
results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.engines.base import INDEX_COLUMNS, INTERNAL_STATE
from experiments.engines.draws import StackedDraws, stack_drivers
from experiments.engines.guard import GUARD_COLUMNS, check_days
from model import Parameters, initial_state, partial_state_update_blocks
from model.derived import with_derived
from model.utils import summed


def run_vectorized(
    parameter_sets: Sequence[Parameters],
    runs: int,
    timesteps: int,
    seed: int,
    first_subset: int = 0,
    batch: range | None = None,
    common_draws: bool = False,
    record: Sequence[str] | None = None,
    as_paths: bool = False,
    layout: str = "trajectory",
    allocate: Callable[[int], np.ndarray] | None = None,
):
    """All subsets x runs for `timesteps` days. One row per (subset, run, timestep), day 0 = TGE.

    The frame has the raw shape `experiments.engines.base.tidy` accepts: subset, run, timestep, then every
    recorded state variable as float64, ordered by subset, run, timestep. Subset numbers (and so
    the seeds) start at `first_subset`, as in `experiments.engines.registry.simulate`. `batch` (trajectory
    numbers, see the module docstring) runs only those trajectories, with the numbers they have
    in the whole call. `common_draws` gives every subset the random draws of subset 0 (common
    random numbers: subsets then differ by their parameters only).

    `record` limits what is kept to those variables (plus what the invariant guard checks); with
    `as_paths` the result is a `Recorded` (the arrays, with the trajectories' subsets and runs)
    instead of a frame: what a KPI-only batch reduces, without building rows. `layout` is the
    recorder's (`day` for KPI-only batches: see `Recorder`). `allocate(size)`: a float64 array of at
    least `size` elements to record into instead of a new one (for a batch after batch caller
    that is done with the previous result: writing into memory the process already touched
    avoids a page fault per 4 KB, which costs more than the recording itself).
    """
    chosen = select_trajectories(len(parameter_sets), runs, first_subset, batch)
    params = stacked_params(
        parameter_sets, runs, seed, timesteps, first_subset, batch=batch, common_draws=common_draws
    )
    state = stacked_initial_state(parameter_sets, runs, batch=batch)
    variables = recorded_variables(state)
    checked = []  # what only the guard reads: kept for the chunk it checks (day layout)
    if record is not None:
        wanted = set(record) | set(GUARD_COLUMNS)
        if layout == "day":
            checked = [name for name in variables if name not in record and name in wanted]
            wanted = set(record)
        variables = [name for name in variables if name in wanted]
    order = recorded_variables(state)
    recorder = Recorder(variables, len(chosen.runs), timesteps, layout, allocate, checked, order)
    blocks = compile_blocks(partial_state_update_blocks)
    shapes = {name: np.shape(value) for name, value in state.items()}

    def parameters_of(i: int) -> Parameters:
        return parameter_sets[int(chosen.positions[i])]

    for day in range(0, timesteps + 1):
        if day:
            state = step_day(params, state, blocks, shapes, day)
        recorder.record(day, state)
        if recorder.chunk_full() or day == timesteps:
            # the guard checks the days recorded since its last check in one pass; a breach
            # names the first broken day, as a check after every day would
            first, values, names = recorder.pending()
            check_days(values, names, first, chosen.subsets, chosen.runs, parameters_of)
            recorder.flush()
    recorded = Recorded(recorder, chosen.subsets, chosen.runs)
    return recorded if as_paths else recorded.frame()


@dataclass(frozen=True)
class Trajectories:
    """The trajectories one call steps, in (subset, run) order: one element each."""

    positions: np.ndarray  # index of the trajectory's parameter set in `parameter_sets`
    subsets: np.ndarray  # its subset number: first_subset + position
    runs: np.ndarray  # its run number, from 1


def select_trajectories(
    sets: int, runs: int, first_subset: int = 0, batch: range | None = None
) -> Trajectories:
    """Trajectory numbers -> parameter set, subset and run (all of them when `batch` is None)."""
    total = sets * runs
    if batch is None:
        batch = range(total)
    if batch.step != 1 or len(batch) == 0 or batch.start < 0 or batch.stop > total:
        raise ValueError(f"batch must be a non-empty range within 0..{total}, got {batch}")
    numbers = np.arange(batch.start, batch.stop)
    positions = numbers // runs
    return Trajectories(positions, positions + first_subset, numbers % runs + 1)


def stacked_params(
    parameter_sets: Sequence[Parameters],
    runs: int,
    seed: int,
    timesteps: int,
    first_subset: int = 0,
    batch: range | None = None,
    common_draws: bool = False,
) -> dict:
    """One params dict: each model parameter an array of shape (trajectories,).

    Values keep their type (float, int, bool or str arrays), so comparisons such as
    `day == stress_day` or `pol_after_review == "pool"` mean what they mean for one scalar run.
    `_drivers` holds every trajectory's random draws, which `model.stochastic.shock` reads; the
    derived entries (`model.derived`) are worked out once from the stacked arrays.
    """
    chosen = select_trajectories(len(parameter_sets), runs, first_subset, batch)
    dicts = [p.to_dict() for p in parameter_sets]
    params = {
        name: np.asarray([d[name] for d in dicts])[chosen.positions] for name in Parameters.names()
    }
    draw_subsets = np.zeros_like(chosen.subsets) if common_draws else chosen.subsets
    # a whole call's draws are kept for the next call with the same trajectories (a batch's not)
    table = stack_drivers(seed, draw_subsets, chosen.runs, timesteps, keep=batch is None)
    params["_drivers"] = StackedDraws(table)
    return with_derived(params)


def stacked_initial_state(
    parameter_sets: Sequence[Parameters], runs: int, batch: range | None = None
) -> dict:
    """Each subset's TGE state, repeated for its runs: shape (trajectories,) or (trajectories, k)."""
    positions = select_trajectories(len(parameter_sets), runs, batch=batch).positions
    used = np.unique(positions)  # a batch of a big sweep needs only its own subsets' states
    states = [initial_state(parameter_sets[i]) for i in used]
    rows = np.searchsorted(used, positions)
    return {name: np.stack([np.asarray(s[name]) for s in states])[rows] for name in states[0]}


def recorded_variables(state: dict) -> list[str]:
    """The state variables that are results (internal bookkeeping arrays are not)."""
    return [name for name in state if name not in INTERNAL_STATE]


@dataclass(frozen=True)
class Block:
    """One partial state update block, compiled: its policies, and its state updates sorted by
    what they do. The model's generic updates (`model.utils.add_delta` / `set_value`) say what
    they do in an attribute, so the day loop applies them directly instead of calling them and
    checking each result's shape; any other update is called as cadCAD calls it."""

    policies: tuple
    adds: tuple[tuple[str, str], ...]  # (variable, signal key): variable += signal[key]
    sets: tuple[str, ...]  # variable = signal[variable]
    calls: tuple  # other update functions


def compile_blocks(blocks: list[dict]) -> list[Block]:
    """The blocks in the order cadCAD runs them, each compiled (see `Block`)."""
    compiled = []
    for block in blocks:
        updates = list(block["variables"].values())
        adds = tuple(u.adds for u in updates if hasattr(u, "adds"))
        sets = tuple(u.sets for u in updates if hasattr(u, "sets"))
        calls = tuple(u for u in updates if not (hasattr(u, "adds") or hasattr(u, "sets")))
        compiled.append(Block(tuple(block["policies"].values()), adds, sets, calls))
    return compiled


def block_signal(params: dict, substep: int, state: dict, policies) -> dict:
    """Every policy's signals, summed by key in policy order (cadCAD's default `policy_ops`)."""
    if len(policies) == 1:  # most blocks: the policy's own signals
        (policy,) = policies
        return policy(params, substep, [], state)
    return summed(*(policy(params, substep, [], state) for policy in policies))


def step_day(params: dict, state: dict, blocks: list[Block], shapes: dict, day: int) -> dict:
    """One day for every trajectory: each block in order, as cadCAD runs a day.

    Every update reads the state the block started from: a block's policies and its other
    (untagged) updates see that state, and since each variable has one update in a block, a
    tagged update that replaces its variable reads nothing another one has already changed. So
    the day works on one copy of the caller's dict (which stays as it was) and never writes into
    an array: recorded values and earlier states stay valid. A stock plus a delta has the stock's
    shape already (a delta that is a plain 0.0 leaves the stock as it is: the same numbers, one
    array operation fewer); a set value may be a plain scalar and is broadcast.
    """
    state = dict(state)
    for substep, block in enumerate(blocks, start=1):
        signal = block_signal(params, substep, state, block.policies)
        called = [update(params, substep, [], state, signal) for update in block.calls]
        for name, key in block.adds:
            delta = signal[key]
            if type(delta) is not float or delta != 0.0:  # a plain 0.0 changes nothing
                state[name] = state[name] + delta
        for name in block.sets:
            state[name] = _shaped(signal[name], shapes[name])
        for name, value in called:
            state[name] = _shaped(value, shapes[name])
        state["timestep"] = day
    return state


def _shaped(value, shape: tuple):
    """The value as an array of the variable's shape (a policy may return a plain scalar)."""
    if type(value) is np.ndarray and value.shape == shape:
        return value
    return _broadcast(value, shape)


def _broadcast(value, shape: tuple) -> np.ndarray:
    """A scalar as an array of `shape`: a plain 0.0 (the commonest) as one read-only array of
    zeros per shape, made once (`np.full` costs several array operations' time)."""
    if type(value) is float and value == 0.0:
        zeros = _ZEROS.get(shape)
        if zeros is None:
            zeros = _ZEROS[shape] = np.zeros(shape)
            zeros.flags.writeable = False
        return zeros
    return np.full(shape, value)


_ZEROS: dict[tuple, np.ndarray] = {}


class Recorder:
    """End-of-day values of the recorded variables, written into one preallocated float block.

    Two layouts. `trajectory` (the full frame): (variable, trajectory, timestep), so the finished
    frame is a view of the block in (subset, run, timestep) row order, without copying the
    results again; days are written contiguously into a small day-major buffer and moved into the
    block a chunk at a time (one strided write per variable and day is slow). `day` (KPI-only
    batches): (variable, timestep, trajectory), written in place; `paths()` then gives transposed
    views, and a (thinned) frame is copied out of it. In both, `pending()` is the chunk of days
    recorded since the last `flush()`, day-major, which the invariant guard checks in one pass.
    `checked` (day layout) are variables only the guard reads: kept for the pending chunk only,
    not for the whole horizon, and not in `paths()` or the frame; `order` is the order the guard
    sees them in.
    """

    CHUNK = 64

    def __init__(
        self,
        variables: list[str],
        trajectories: int,
        timesteps: int,
        layout: str = "trajectory",
        allocate: Callable[[int], np.ndarray] | None = None,
        checked: Sequence[str] = (),
        order: Sequence[str] | None = None,
    ):
        if checked and layout != "day":
            raise ValueError("only the day layout keeps guard-only variables for a chunk")
        self.variables = variables
        self.checked = list(checked)
        # the guard gets kept and guard-only variables in `order` (the state's), so a breach
        # names the same variable first whatever a run keeps
        names = self.variables + self.checked
        self._names = names if order is None else [n for n in order if n in names]
        self._order = [names.index(name) for name in self._names]
        self._checked = np.empty((len(self.checked), self.CHUNK, trajectories))
        self.layout = layout
        if layout == "day":
            shape = (len(variables), timesteps + 1, trajectories)
        else:
            shape = (len(variables), trajectories, timesteps + 1)
        size = math.prod(shape)
        block = None if allocate is None else allocate(size)
        if block is not None and block.dtype == np.float64 and block.size >= size:
            self.values = block[:size].reshape(shape)  # a block reused from an earlier call
        else:
            self.values = np.empty(shape)
        if layout != "day":
            self._buffer = np.empty((len(variables), self.CHUNK, trajectories))
        # each variable's rows, as views made once (iterating the block makes a view a call)
        self._rows = list(self.values if layout == "day" else self._buffer)
        self._checked_rows = list(self._checked)
        self._first = 0  # the first day not yet flushed
        self._count = 0  # days recorded since

    def record(self, timestep: int, state: dict) -> None:
        if self._count == self.CHUNK:
            self.flush()
        if self._count == 0:
            self._first = timestep
        at = timestep if self.layout == "day" else self._count
        for row, name in zip(self._rows, self.variables, strict=True):
            row[at] = state[name]
        for row, name in zip(self._checked_rows, self.checked, strict=True):
            row[self._count] = state[name]
        self._count += 1

    def chunk_full(self) -> bool:
        return self._count == self.CHUNK

    def pending(self) -> tuple[int, np.ndarray, list[str]]:
        """(first day, (variables, days, trajectories) values, their names) of the days not yet
        flushed, guard-only variables included."""
        first, count = self._first, self._count
        if self.layout != "day":
            return first, self._buffer[:, :count, :], self.variables
        kept = self.values[:, first : first + count, :]
        if not self.checked:
            return first, kept, self.variables
        values = np.concatenate([kept, self._checked[:, :count, :]])[self._order]
        return first, values, self._names

    def flush(self) -> None:
        """Move the buffered days into the block (trajectory layout); start a new chunk."""
        if self.layout != "day" and self._count:
            first, count = self._first, self._count
            self.values[:, :, first : first + count] = self._buffer[:, :count, :].transpose(0, 2, 1)
        self._first += self._count
        self._count = 0

    def paths(self) -> dict[str, np.ndarray]:
        """variable -> (trajectories, timesteps + 1) view of the block (no copy)."""
        self.flush()
        rows = self.values if self.layout != "day" else self.values.transpose(0, 2, 1)
        return dict(zip(self.variables, rows, strict=True))

    def frame(self, subsets: np.ndarray, run_numbers: np.ndarray, every: int = 1) -> pd.DataFrame:
        """The tidy frame (already in (subset, run, timestep) order, float64 columns); `every`
        keeps the days that are multiples of it."""
        self.flush()
        if self.layout == "day":
            # always a copy (never a view of the block, which a caller may reuse)
            values = self.values[:, ::every, :].transpose(0, 2, 1).copy()
            days = self.values.shape[1]
        else:
            values = self.values if every == 1 else self.values[:, :, ::every]
            days = self.values.shape[2]
        count, trajectories, steps = values.shape
        columns = values.reshape(count, trajectories * steps).T
        frame = pd.DataFrame(columns, columns=self.variables, copy=False)
        index = {
            "subset": np.repeat(np.asarray(subsets, dtype="int64"), steps),
            "run": np.repeat(np.asarray(run_numbers, dtype="int64"), steps),
            "timestep": np.tile(np.arange(0, days, every), trajectories),
        }
        for position, name in enumerate(INDEX_COLUMNS):
            frame.insert(position, name, index[name])
        return frame


@dataclass(frozen=True)
class Recorded:
    """A finished call's recorded block and who its trajectories are."""

    recorder: Recorder
    subsets: np.ndarray
    runs: np.ndarray

    def paths(self) -> dict[str, np.ndarray]:
        return self.recorder.paths()

    def frame(self, every: int = 1) -> pd.DataFrame:
        return self.recorder.frame(self.subsets, self.runs, every)


def run_spec(
    parameter_sets: Sequence[Parameters], spec, record: Sequence[str] | None = None
) -> pd.DataFrame:
    """The registry's runner: every trajectory in one call (single process); `record` as in
    `run_vectorized`."""
    return run_vectorized(
        parameter_sets,
        spec.runs,
        spec.timesteps,
        spec.seed,
        spec.first_subset,
        common_draws=spec.common_draws,
        record=record,
    )
