"""The frame contract every engine meets, and the parameters dict an engine hands the model.

Every engine returns the same tidy frame: one row per (subset, run, timestep), the columns
`INDEX_COLUMNS` first, then every recorded state variable as float64, sorted. Runs are numbered
from 1 (as cadCAD and radCAD number them), timestep 0 is the TGE state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.engines.draws import TrajectoryDraws, run_number
from model import Parameters, initial_state
from model.derived import with_derived

# Columns every results frame starts with; the model's state variables follow.
INDEX_COLUMNS = ["subset", "run", "timestep"]
# How a frame is written to parquet (pyarrow's write options), in memory or batch by batch:
# dictionary encoding only for the index columns. Tried on every float column, it finds almost
# no repeats and costs about a third of the write.
PARQUET_OPTIONS = {"use_dictionary": INDEX_COLUMNS}
# State that is internal bookkeeping, not a result (an array per row).
INTERNAL_STATE = ("unstake_queue",)


def state_columns() -> list[str]:
    """The recorded state variables, in the model's order."""
    return [k for k in initial_state() if k not in INTERNAL_STATE]


def model_params(
    parameters: Parameters, subset: int, seed: int, runs: int, timesteps: int, first_run: int = 0
) -> dict:
    """One subset's params dict for a one-trajectory-at-a-time engine (cadCAD, radCAD).

    `_drivers` finds each run's random draws for `model.stochastic.shock` (`subset`: the subset
    whose seeds it draws from); the derived entries (`model.derived`) are what the policies read
    besides the parameters.
    """
    params = parameters.to_dict()
    params["_drivers"] = TrajectoryDraws(
        int(seed), int(subset), int(runs), int(timesteps), int(first_run)
    )
    return with_derived(params)


def draws_of(subset: int, spec) -> int:
    """The subset whose random draws a subset gets: its own, or subset 0's with common draws."""
    return 0 if spec.common_draws else subset


def tidy(frame: pd.DataFrame, runs: int, first_run: int = 0) -> pd.DataFrame:
    """One row per (subset, run, timestep), model columns as float64, sorted.

    `frame` holds an engine's raw records (subset, run, timestep, state variables); run labels are
    folded back into first_run + 1 .. first_run + runs (cadCAD numbers a one-run sweep 1, 2, ...).
    """
    out = pd.DataFrame(
        {
            "subset": frame["subset"].astype("int64").to_numpy(),
            "run": run_number(frame["run"].astype("int64"), runs, first_run).to_numpy(),
            "timestep": frame["timestep"].astype("int64").to_numpy(),
        }
    )
    for column in state_columns():
        values = frame[column].to_numpy()
        if values.dtype == object:
            values = np.fromiter((float(v) for v in values), dtype="float64", count=len(values))
        out[column] = values.astype("float64")
    return out.sort_values(INDEX_COLUMNS, kind="stable").reset_index(drop=True)
