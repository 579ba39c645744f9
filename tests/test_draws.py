"""How engines hand the model its random draws (experiments/engines/draws.py)."""

import pickle

import numpy as np

from experiments.engines.draws import StackedDraws, TrajectoryDraws, run_number, stack_drivers
from model.stochastic import DRIVERS, draw_drivers, shock


def test_run_labels_fold_back_into_the_runs_of_the_call():
    # cadCAD labels the runs of a two-subset, three-run sweep 1..6; a call for runs 3..5 of a
    # sweep (first_run 2) labels them 1..3
    assert [run_number(label, 3) for label in range(1, 7)] == [1, 2, 3, 1, 2, 3]
    assert [run_number(label, 3, first_run=2) for label in (1, 2, 3, 4)] == [3, 4, 5, 3]
    np.testing.assert_array_equal(run_number(np.array([1, 4, 6]), 3), [1, 1, 3])


def test_a_stepped_trajectory_reads_the_draws_of_its_own_seed():
    draws = TrajectoryDraws(seed=7, subset=1, runs=3, timesteps=40, first_run=2)
    expected = draw_drivers(7, 1, 4, 40)  # label 5 is the call's second run: run 2 + 2
    params = {"_drivers": draws}
    for name in DRIVERS:
        assert shock(params, {"run": 5, "day": 17}, name) == expected[name][17]


def test_stacked_draws_give_every_trajectory_its_days_draw():
    table = stack_drivers(7, [0, 1], [1, 1], 40)
    params = {"_drivers": StackedDraws(table)}
    day = {"day": np.array([12, 12])}
    np.testing.assert_array_equal(
        shock(params, day, "eth_shock"),
        [draw_drivers(7, 0, 1, 40)["eth_shock"][12], draw_drivers(7, 1, 1, 40)["eth_shock"][12]],
    )


def test_draw_lookups_travel_to_other_processes():
    # radCAD's parallel backends pickle the params
    draws = TrajectoryDraws(seed=7, subset=1, runs=3, timesteps=40)
    assert pickle.loads(pickle.dumps(draws)) == draws
    stacked = pickle.loads(pickle.dumps(StackedDraws(stack_drivers(7, [0], [1], 10))))
    np.testing.assert_array_equal(
        stacked({})["ref_shock"][:, 0], draw_drivers(7, 0, 1, 10)["ref_shock"]
    )
