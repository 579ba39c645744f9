"""cadCAD 0.5.3 (`Executor`, single process): the reference engine, one trajectory at a time."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import pandas as pd

from experiments.engines.base import draws_of, model_params
from model import Parameters, initial_state, partial_state_update_blocks

BACKENDS = ("single_process",)


def run_cadcad(parameter_sets: Sequence[Parameters], spec) -> pd.DataFrame:
    """Raw records of every subset x run (last substep of each day, plus timestep 0)."""
    from cadCAD.configuration import Experiment
    from cadCAD.configuration.utils import config_sim
    from cadCAD.engine import ExecutionContext, ExecutionMode, Executor

    # cadCAD prints banners and progress bars: the runner's caller owns the terminal.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        experiment = Experiment()
        for subset, parameters in enumerate(parameter_sets, start=spec.first_subset):
            params = model_params(
                parameters,
                draws_of(subset, spec),
                spec.seed,
                spec.runs,
                spec.timesteps,
                spec.first_run,
            )
            experiment.append_model(
                initial_state=initial_state(parameters),
                partial_state_update_blocks=partial_state_update_blocks,
                sim_configs=config_sim(
                    {
                        "N": spec.runs,
                        "T": range(spec.timesteps),
                        "M": {k: [v] for k, v in params.items()},
                    }
                ),
            )
        context = ExecutionContext(
            context=ExecutionMode().single_mode, additional_objs={"deepcopy_off": True}
        )
        records, _, _ = Executor(exec_context=context, configs=experiment.configs).execute()
    full = pd.DataFrame(records)
    last = full[full["substep"] == full["substep"].max()]
    # keep the timestep-0 rows (substep 0) beside each day's last substep
    frame = pd.concat([full[full["timestep"] == 0], last])
    return frame.assign(subset=frame["simulation"] + spec.first_subset)
