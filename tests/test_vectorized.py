"""The vectorized engine equals cadCAD, and every model function works on arrays of trajectories."""

import numpy as np
import pandas as pd
import pytest

from experiments.analysis.tolerances import assert_frames_close, ledger_of, values_close
from experiments.engines.base import model_params
from experiments.engines.vectorized import (
    block_signal,
    compile_blocks,
    run_vectorized,
    stacked_initial_state,
    stacked_params,
    step_day,
)
from experiments.run import simulate
from model import ParameterError, Parameters, partial_state_update_blocks

TWO_SUBSETS = [
    Parameters(),
    Parameters(
        fee_pool_share=1.0,
        staking_requirement=20_000.0,
        stress_day=200,
        stress_price_drop=0.5,
        stress_exit_share=0.3,
    ),
]


@pytest.fixture(scope="module")
def vectorized_year():
    return simulate(TWO_SUBSETS, runs=3, years=1, seed=31, engine="vectorized")


@pytest.mark.engines
def test_vectorized_equals_cadcad_on_every_column(vectorized_year):
    cadcad = simulate(TWO_SUBSETS, runs=3, years=1, seed=31, engine="cadcad")
    assert_frames_close(vectorized_year, cadcad)
    assert sorted(vectorized_year["subset"].unique()) == [0, 1]
    assert sorted(vectorized_year["run"].unique()) == [1, 2, 3]
    # the drivers are on: runs of one subset differ
    prices = vectorized_year[vectorized_year["timestep"] == 365].groupby("subset")["price_usd"]
    assert (prices.nunique() == 3).all()


def test_first_subset_keeps_the_seeds_of_a_whole_sweep(vectorized_year):
    alone = simulate(TWO_SUBSETS[1:], runs=3, years=1, seed=31, engine="vectorized", first_subset=1)
    expected = vectorized_year[vectorized_year["subset"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, expected)


def test_vectorized_engine_has_no_process_pool_backends():
    # it runs in one process or as Ray tasks (tests/test_streaming.py), not on radCAD's pools
    with pytest.raises(ParameterError, match="engine vectorized: must be single_process or ray"):
        simulate([Parameters()], runs=2, years=0.1, engine="vectorized", backend="pathos")


# Trajectories chosen to take different branches on the checked day: plain contract emissions,
# a binding claim cap, the POL review's other outcomes, and a stress day for one subset only.
DIVERSE_SUBSETS = [
    Parameters(),
    Parameters(
        launch_smoothing=False,
        fee_pool_share=1.0,
        staking_requirement=20_000.0,
        claim_cap_per_day=1_000.0,
        pol_review_day=300,
        pol_after_review="treasury",
        stress_day=401,
        stress_price_drop=0.5,
        stress_exit_share=0.5,
    ),
    Parameters(
        pol_review_day=300,
        pol_after_review="pool",
        pro_launch_day_earliest=100,
        pro_launch_day_latest=250,
    ),
]
CHECK_DAY = 400
SEED = 5
RUNS = 2
# Per-trajectory factors that push the yield gap both ways (joiners in some, leavers in others).
REWARD_FACTORS = np.array([5.0, 0.01, 1.0, 0.2, 3.0, 0.5])


def _diverse_state(params):
    state = stacked_initial_state(DIVERSE_SUBSETS, RUNS)
    shapes = {name: np.shape(value) for name, value in state.items()}
    blocks = compile_blocks(partial_state_update_blocks)
    for day in range(1, CHECK_DAY + 1):
        state = step_day(params, state, blocks, shapes, day)
    return dict(state, reward_per_node=state["reward_per_node"] * REWARD_FACTORS)


def _scalar_params(trajectory):
    subset = trajectory // RUNS
    # as cadCAD and radCAD get them (derived entries included)
    return model_params(DIVERSE_SUBSETS[subset], subset, SEED, RUNS, CHECK_DAY + 1)


def _scalar_state(state, trajectory):
    """One trajectory's state as a cadCAD run sees it: Python numbers, the queue as an array."""
    one = {
        name: value[trajectory] if value.ndim > 1 else value[trajectory].item()
        for name, value in state.items()
        if name != "timestep"
    }
    return dict(one, run=trajectory % RUNS + 1, timestep=CHECK_DAY)


def _ledger_size(state, name, trajectory):
    """The largest value of `name`'s ledger (its unit) in one trajectory's state."""
    return max(
        float(np.max(np.abs(value[trajectory])))
        for other, value in state.items()
        if np.ndim(value) and ledger_of(other) == ledger_of(name)
    )


@pytest.mark.engines
def test_every_block_gives_each_trajectory_its_own_scalar_result():
    """Fails if a function branches on (or picks one element of) a state or parameter array."""
    trajectories = len(DIVERSE_SUBSETS) * RUNS
    params = stacked_params(DIVERSE_SUBSETS, RUNS, SEED, CHECK_DAY + 1)
    state = _diverse_state(params)
    differing = [k for k, v in state.items() if np.ndim(v) and np.unique(v, axis=0).shape[0] > 1]
    assert len(differing) > 40
    for substep, block in enumerate(partial_state_update_blocks, 1):
        policies, updates = list(block["policies"].values()), list(block["variables"].values())
        signal = block_signal(params, substep, state, policies)
        results = dict(update(params, substep, [], state, signal) for update in updates)
        for trajectory in range(trajectories):
            p, s = _scalar_params(trajectory), _scalar_state(state, trajectory)
            scalar_signal = block_signal(p, substep, s, policies)
            for update in updates:
                name, value = update(p, substep, [], s, scalar_signal)
                assert np.ndim(value) == np.ndim(state[name]) - 1, name
                mine = np.broadcast_to(results[name], np.shape(state[name]))[trajectory]
                # one block of one day: its rounding, at the size of its ledger in the state
                scale = _ledger_size(state, name, trajectory)
                assert values_close(name, mine, value, days=1, scale=scale), (
                    f"block {substep}, {name}, trajectory {trajectory}: {mine!r} vs {value!r}"
                )
        state = {**state, **{k: np.broadcast_to(v, np.shape(state[k])) for k, v in results.items()}}


def test_the_compiled_blocks_do_what_the_update_functions_do():
    """The day loop applies tagged updates directly; each tag must match its function."""
    params = stacked_params(DIVERSE_SUBSETS, RUNS, SEED, CHECK_DAY + 1)
    state = _diverse_state(params)
    shapes = {name: np.shape(value) for name, value in state.items()}
    compiled = compile_blocks(partial_state_update_blocks)
    assert sum(len(b.adds) + len(b.sets) for b in compiled) > 80  # nearly every update is tagged
    for substep, (block, raw) in enumerate(
        zip(compiled, partial_state_update_blocks, strict=True), 1
    ):
        assert block.policies == tuple(raw["policies"].values())
        stepped = step_day(params, state, [block], shapes, CHECK_DAY)
        signal = block_signal(params, substep, state, list(raw["policies"].values()))
        for update in raw["variables"].values():
            name, value = update(params, substep, [], state, signal)
            np.testing.assert_array_equal(stepped[name], np.broadcast_to(value, shapes[name]))
        state = stepped


def test_the_chunked_recorder_gives_the_same_frame_at_every_chunk_size(monkeypatch):
    from experiments.engines import vectorized

    sets = [Parameters(), Parameters(fee_pool_share=1.0)]
    frames = []
    for chunk in (1, 7, 64):  # 183 days: chunk boundaries inside and at the end
        monkeypatch.setattr(vectorized.Recorder, "CHUNK", chunk)
        frames.append(simulate(sets, runs=3, years=0.5, seed=5, engine="vectorized"))
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0], check_exact=True)


def test_recording_into_a_reused_block_gives_the_same_paths():
    from experiments.analysis.kpis import KPI_COLUMNS
    from experiments.engines.vectorized import run_vectorized

    sets = [Parameters(), Parameters(fee_pool_share=1.0)]
    settings = dict(record=KPI_COLUMNS, as_paths=True, layout="day")
    fresh = [run_vectorized(sets, 4, 90, 7, batch=b, **settings) for b in (range(4), range(4, 8))]
    block = np.full(10**6, np.nan)  # larger than a batch's block; stale values from batch 1
    for expected, b in zip(fresh, (range(4), range(4, 8)), strict=True):
        reused = run_vectorized(sets, 4, 90, 7, batch=b, allocate=lambda size: block, **settings)
        paths = reused.paths()
        assert np.shares_memory(next(iter(paths.values())), block)
        for name, values in expected.paths().items():
            np.testing.assert_array_equal(paths[name], values, err_msg=name)
    too_small = np.empty(10)  # not big enough: a new block, same numbers
    again = run_vectorized(
        sets, 4, 90, 7, batch=range(4), allocate=lambda size: too_small, **settings
    )
    assert not np.shares_memory(next(iter(again.paths().values())), too_small)


def test_kpi_only_batches_still_guard_what_they_do_not_keep(monkeypatch):
    """KPI-only records the guard-only stocks for the checked chunk alone; a breach there is
    still found, on its first day."""
    from experiments.analysis.kpis import KPI_COLUMNS
    from experiments.engines.guard import InvariantError
    from experiments.engines.vectorized import run_vectorized
    from model.utils import today

    (rewards,) = [b["policies"] for b in partial_state_update_blocks if b["label"] == "rewards"]
    original = rewards["rewards"]

    def leaks(params, substep, history, state):  # stock moved, supply conserved: unstaking < 0
        signal = dict(original(params, substep, history, state))
        if today(state) >= 100:  # the vesting block has advanced the day
            signal["d_unstaking"] = signal["d_unstaking"] - 1e9
            signal["d_circulating"] = signal["d_circulating"] + 1e9
        return signal

    monkeypatch.setitem(rewards, "rewards", leaks)
    assert "unstaking" not in KPI_COLUMNS
    with pytest.raises(InvariantError, match=r"no negative stock \(unstaking\).* on day 100 "):
        run_vectorized([Parameters()], 3, 200, 1, record=KPI_COLUMNS, as_paths=True, layout="day")
    done = run_vectorized([Parameters()], 3, 99, 1, record=KPI_COLUMNS, as_paths=True, layout="day")
    recorded_names = list(done.paths())
    assert "unstaking" not in recorded_names and "price_usd" in recorded_names


def test_the_guard_names_the_same_variable_whatever_a_run_keeps_for_later(monkeypatch):
    from experiments.analysis.kpis import KPI_COLUMNS
    from experiments.engines.guard import InvariantError
    from experiments.engines.vectorized import run_vectorized
    from model.utils import today

    (market,) = [b["policies"] for b in partial_state_update_blocks if b["label"] == "market"]
    original = market["market"]

    def poisons(params, substep, history, state):  # NaN in a stock KPI-only does not keep
        signal = dict(original(params, substep, history, state))
        if today(state) == 10:
            signal["d_circulating"] = signal["d_circulating"] * np.nan
        return signal

    monkeypatch.setitem(market, "market", poisons)
    messages = []
    # the same variables recorded; KPI-only (day layout) keeps the guard-only ones for a chunk
    for layout in ("trajectory", "day"):
        settings = {"record": KPI_COLUMNS, "layout": layout}
        with pytest.raises(InvariantError) as raised:
            run_vectorized([Parameters()], 2, 40, 1, as_paths=True, **settings)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert "non-finite" in messages[0]


# Each subset takes the other side of a branch on the parameters (model.derived) from the rest:
# alone, a subset's call skips what the mixed call works out for the others.
BRANCHING_SUBSETS = [
    Parameters(),
    Parameters(launch_smoothing=False, stress_day=40),
    Parameters(price_model="pool_only", pro_revenue_route="pool"),
    Parameters(
        price_model="exogenous",
        sns_deployed=True,
        sns_launch_day_earliest=10,
        sns_launch_day_latest=40,
    ),
]


def test_branches_on_the_parameters_do_not_change_a_trajectory():
    """A trajectory's numbers are the same whether its call skips work no trajectory uses (it
    runs alone) or works it out for the others (mixed with subsets on the other branch)."""
    mixed = run_vectorized(BRANCHING_SUBSETS, runs=2, timesteps=120, seed=3)
    for subset, parameters in enumerate(BRANCHING_SUBSETS):
        alone = run_vectorized([parameters], runs=2, timesteps=120, seed=3, first_subset=subset)
        mine = mixed[mixed["subset"] == subset].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone, check_exact=True)


def test_random_draws_are_drawn_once_per_trajectory_set_and_read_only():
    from experiments.engines.draws import _STACKS, stack_drivers
    from model.stochastic import draw_drivers

    first = stack_drivers(11, [0, 1, 0], [1, 1, 1], 30, keep=True)
    assert stack_drivers(11, [0, 1, 0], [1, 1, 1], 30) is first  # kept: not drawn again
    assert not first["eth_shock"].flags.writeable
    # common draws: trajectories with the same (subset, run) share one draw
    np.testing.assert_array_equal(first["eth_shock"][:, 0], first["eth_shock"][:, 2])
    np.testing.assert_array_equal(first["ref_shock"][:, 1], draw_drivers(11, 1, 1, 30)["ref_shock"])
    # a batch's stack is not kept
    stack_drivers(12, [0], [1], 30)
    assert all(key[0] != 12 for key in _STACKS)


@pytest.mark.parametrize("engine", ["vectorized", "radcad", "cadcad"])
def test_no_parameter_sets_is_a_parameter_error(engine):
    with pytest.raises(ParameterError, match="invalid parameter sets: must be at least one"):
        simulate([], runs=1, years=0.1, engine=engine)
