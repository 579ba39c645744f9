"""radCAD 0.14.0 on any of its backends (single process, multiprocessing, pathos, Ray).

Copying is off and substeps are dropped (ENGINE-NOTES: ~4x faster, same numbers): the model keeps
its state values immutable, so no step can change a recorded one. On the Ray backend radCAD calls
`ray.init` itself; `experiments.engines.ray_cluster.ray_session` has already started (or joined)
Ray by then, and an earlier `ray.init` wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from experiments.engines.base import draws_of, model_params
from model import Parameters, initial_state, partial_state_update_blocks

# Our backend names -> radCAD's `Backend` members: every backend radCAD runs on.
_RADCAD_BACKENDS = {
    "single_process": "SINGLE_PROCESS",
    "multiprocessing": "MULTIPROCESSING",
    "pathos": "PATHOS",
    "ray": "RAY",
}
BACKENDS = tuple(_RADCAD_BACKENDS)


def run_radcad(parameter_sets: Sequence[Parameters], spec) -> pd.DataFrame:
    """Raw records of every subset x run, one row per day (substeps dropped)."""
    import radcad

    simulations = []
    for subset, parameters in enumerate(parameter_sets, start=spec.first_subset):
        params = model_params(
            parameters, draws_of(subset, spec), spec.seed, spec.runs, spec.timesteps, spec.first_run
        )
        model = radcad.Model(
            initial_state=initial_state(parameters),
            state_update_blocks=partial_state_update_blocks,
            params={k: [v] for k, v in params.items()},
        )
        simulations.append(radcad.Simulation(model=model, timesteps=spec.timesteps, runs=spec.runs))
    engine = radcad.Engine(
        backend=getattr(radcad.Backend, _RADCAD_BACKENDS[spec.backend]),
        deepcopy=False,
        drop_substeps=True,
        processes=spec.processes or 1,
        raise_exceptions=True,
    )
    experiment = radcad.Experiment(simulations=simulations)
    experiment.engine = engine
    frame = pd.DataFrame(experiment.run())
    return frame.assign(subset=frame["simulation"] + spec.first_subset)
