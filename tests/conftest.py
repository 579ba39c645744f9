"""Shared fixtures: whole multi-run simulations, run once per test session."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from experiments import plan
from experiments.run import run


@pytest.fixture(scope="session")
def baseline_runs():
    """Five 5-year trajectories of the default model (launch smoothing on)."""
    return run(runs=5, years=5, seed=11, engine="radcad")


@pytest.fixture(scope="session")
def unsmoothed_runs():
    """Three 5-year trajectories with the plain contract emission rule."""
    return run(runs=3, years=5, seed=12, engine="radcad", overrides={"launch_smoothing": False})


@pytest.fixture(scope="session")
def stressed_runs():
    """Three 5-year trajectories through a crash with an exit wave."""
    overrides = {"stress_day": 400, "stress_price_drop": 0.7, "stress_exit_share": 0.5}
    return run(runs=3, years=5, seed=13, engine="radcad", overrides=overrides)


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if the run gets as far as simulating."""

    def refuse(*args, **kwargs):
        raise AssertionError("simulated before the output folder was checked")

    monkeypatch.setattr(plan, "simulate", refuse)
    monkeypatch.setattr(plan, "stream_kpis", refuse)


# CI runs a fixed sequence of property examples (reproducible, no example database on disk).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
