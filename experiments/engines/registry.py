"""The engines by name, one validated run specification, and `simulate`: the way in to all of them.

Every engine runs the same `partial_state_update_blocks` list on the same initial state with the
same per-(subset, run) seeds, so their frames agree (cadCAD and radCAD bit for bit, the
vectorized engine to float rounding). A `RunSpec` carries the run settings once, validated,
instead of threading runs, timesteps, seed, engine, backend, processes and the first subset and
run through every function.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.engines import cadcad, radcad, streaming, vectorized
from experiments.engines.base import tidy
from experiments.engines.guard import check_frame
from experiments.engines.ray_cluster import ray_session
from model import ParameterError, Parameters
from model.constants import DAYS_PER_YEAR

MAX_YEARS = 100
MIN_YEARS = 0.5 / DAYS_PER_YEAR  # rounds to one daily step


@dataclass(frozen=True)
class Engine:
    """An engine: the backends it runs on and its runner (parameter sets, spec) -> raw frame."""

    name: str
    backends: tuple[str, ...]
    runners: dict[str, Callable[[Sequence[Parameters], RunSpec], pd.DataFrame]]
    description: str

    def runner(self, backend: str):
        return self.runners.get(backend, self.runners.get("*"))


ENGINES: dict[str, Engine] = {
    "vectorized": Engine(
        "vectorized",
        ("single_process", "ray"),
        {"single_process": vectorized.run_spec, "ray": streaming.run_on_ray},
        "every trajectory as numpy arrays, one pass per day (the default: ~100x radCAD)",
    ),
    "radcad": Engine(
        "radcad",
        radcad.BACKENDS,
        {"*": radcad.run_radcad},
        "radCAD 0.14, one trajectory at a time, on any of its backends",
    ),
    "cadcad": Engine(
        "cadcad",
        cadcad.BACKENDS,
        {"*": cadcad.run_cadcad},
        "cadCAD 0.5.3 Executor, single process: the reference",
    ),
}
DEFAULT_ENGINE = "vectorized"
# Every backend some engine runs on, the widest engine's first (the order of messages and choices).
BACKENDS = tuple(
    dict.fromkeys(
        backend
        for engine in sorted(ENGINES.values(), key=lambda e: len(e.backends), reverse=True)
        for backend in engine.backends
    )
)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class RunSpec:
    """How to run: validated on construction (ParameterError with a one-line message).

    `first_subset` and `first_run` let a caller run a sweep a subset or a few runs at a time with
    the seeds each (subset, run) gets in one call over everything: runs are then numbered
    first_run + 1 .. first_run + runs. `common_draws` gives every subset the draws of subset 0
    (common random numbers). `processes`: worker processes for parallel backends (None: one, or
    the Ray instance's CPUs).
    """

    runs: int = 1
    years: float = 5
    seed: int = 0
    engine: str = DEFAULT_ENGINE
    backend: str = "single_process"
    processes: int | None = None
    first_subset: int = 0
    first_run: int = 0
    common_draws: bool = False

    def __post_init__(self):
        if not _is_int(self.runs) or self.runs < 1:
            raise ParameterError(f"invalid runs: must be an integer >= 1, got {self.runs!r}")
        years = self.years
        if isinstance(years, bool) or not isinstance(years, (int, float, np.floating)):
            raise ParameterError(f"invalid years: must be a number in (0, 100], got {years!r}")
        if not MIN_YEARS <= years <= MAX_YEARS:
            raise ParameterError(
                f"invalid years: must be a number from {MIN_YEARS:.4g} (one day) to "
                f"{MAX_YEARS}, got {years!r}"
            )
        if not _is_int(self.seed) or self.seed < 0:
            raise ParameterError(f"invalid seed: must be an integer >= 0, got {self.seed!r}")
        if self.engine not in ENGINES:
            raise ParameterError(
                f"invalid engine: must be one of {', '.join(ENGINES)}, got {self.engine!r}"
            )
        if self.backend not in BACKENDS:
            raise ParameterError(
                f"invalid backend: must be one of {', '.join(BACKENDS)}, got {self.backend!r}"
            )
        allowed = ENGINES[self.engine].backends
        if self.backend not in allowed:
            raise ParameterError(
                f"invalid backend for engine {self.engine}: must be "
                f"{' or '.join(allowed)}, got {self.backend!r}"
            )
        if self.processes is not None and (not _is_int(self.processes) or self.processes < 1):
            raise ParameterError(
                f"invalid processes: must be an integer >= 1, got {self.processes!r}"
            )
        for name in ("first_subset", "first_run"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ParameterError(f"invalid {name}: must be an integer >= 0, got {value!r}")
        if self.first_run and self.engine == "vectorized":
            raise ParameterError(
                "invalid first_run: must be 0 for engine vectorized (it streams runs itself)"
            )

    @property
    def timesteps(self) -> int:
        """Daily steps after TGE: years x 365, rounded (at least one)."""
        return max(1, int(round(self.years * DAYS_PER_YEAR)))


def simulate(
    parameter_sets: Sequence[Parameters], spec: RunSpec, record: Sequence[str] | None = None
) -> pd.DataFrame:
    """Run every parameter set (subset first_subset + i is parameter_sets[i]) `spec.runs` times.

    One tidy row per (subset, run, timestep); see `experiments.engines.base`. A run that breaks
    an invariant raises `experiments.engines.guard.InvariantError`. `record`: keep only these
    state variables (plus the invariant guard's); the vectorized engine on a single process
    only. None keeps every variable.
    """
    if len(parameter_sets) == 0:
        raise ParameterError("invalid parameter sets: must be at least one, got none")
    if record is not None and (spec.engine, spec.backend) != ("vectorized", "single_process"):
        raise ParameterError("invalid record: only the vectorized engine on single_process")
    runner = ENGINES[spec.engine].runner(spec.backend)
    chosen = {} if record is None else {"record": record}
    # numpy's floating-point warnings are noise here: the invariant guard reports what matters
    with ray_context(spec), np.errstate(all="ignore"):
        raw = runner(parameter_sets, spec, **chosen)
    if spec.engine == "vectorized":  # its frame is tidy already, and it checked each day
        return raw
    frame = tidy(raw, spec.runs, spec.first_run)
    check_frame(frame, parameter_sets, spec.first_subset)
    return frame


def ray_context(spec: RunSpec, address: str | None = None):
    """A Ray session for a spec on the ray backend (joined if one is running), else nothing."""
    if spec.backend != "ray":
        return contextlib.nullcontext()
    return ray_session(spec.processes, address)
