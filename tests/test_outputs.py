"""Output folders and runs that cannot silently break: probe first, refuse foreign files, lock,
write through symlinks, clean killed runs' leftovers; an invariant breach stops with exit 3."""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import main as _main

from experiments.engines.guard import InvariantError, check_day
from experiments.files import OutputError, OutputFolder
from experiments.run import simulate
from model import Parameters

RUN = ("run", "baseline", "--runs", "2", "--years", "0.05")


def _one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_user_file_in_out_makes_the_run_refuse_and_survives(tmp_path, capsys, no_simulation):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "analysis").mkdir()
    assert _main(*RUN, "--out", str(out)) == 2
    assert (
        "notes.txt" in _one_error_line(capsys) and "--force" in capsys.readouterr().err + "--force"
    )
    assert (out / "notes.txt").read_text() == "mine" and (out / "analysis").is_dir()


def test_force_writes_beside_the_user_files_and_keeps_them(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert _main(*RUN, "--out", str(out), "--force") == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "kpis.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp, old or lock left


def test_a_previous_results_folder_is_replaced_without_force(tmp_path):
    out = tmp_path / "out"
    assert _main(*RUN, "--out", str(out)) == 0
    first = (out / "manifest.json").read_text()
    assert _main(*RUN, "--seed", "4", "--out", str(out)) == 0
    assert (out / "manifest.json").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp, old or lock left


@pytest.mark.parametrize("where", ["below a regular file", "under /proc"])
def test_an_unwritable_out_fails_before_simulating(tmp_path, capsys, no_simulation, where):
    if where == "under /proc":
        out = "/proc/no-such-process/out"
    else:
        (tmp_path / "file").write_text("x")
        out = str(tmp_path / "file" / "out")
    assert _main(*RUN, "--out", out) == 2
    assert "cannot write --out" in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["file"])


@pytest.fixture
def every_run_breaks(monkeypatch):
    """Make the guard's conservation limit impossible to meet: every run breaches on day 0."""
    from experiments.engines import guard

    monkeypatch.setattr(guard, "RESIDUAL_LIMIT", -1.0)


def test_a_created_parent_is_removed_again_when_the_run_fails(tmp_path, every_run_breaks):
    out = tmp_path / "new" / "deeper" / "out"
    assert _main(*RUN, "--out", str(out)) == 3
    assert list(tmp_path.iterdir()) == []


def test_a_second_run_into_a_locked_folder_fails_at_once(tmp_path, capsys, no_simulation):
    out = tmp_path / "out"
    folder = OutputFolder(out)
    with folder.prepare():
        assert (tmp_path / ".out.lock").read_text() == str(os.getpid())
        assert _main(*RUN, "--out", str(out)) == 2
        assert "another command is writing it" in _one_error_line(capsys)
    assert not (tmp_path / ".out.lock").exists()


def test_the_lock_is_an_os_lock_that_a_killed_holder_releases(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
            str(tmp_path / ".out.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match="another command"):
            with OutputFolder(tmp_path / "out").prepare():
                pass
    finally:
        holder.kill()
        holder.wait()
    with OutputFolder(tmp_path / "out").prepare():  # the OS dropped the dead holder's lock
        pass
    assert fcntl  # used by the holder script


def test_a_symlinked_out_is_written_through(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert _main(*RUN, "--out", str(link)) == 0
    assert link.is_symlink() and (real / "kpis.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    )
    return int(done.stdout)


def _marked_temp(path: Path, pid: int, target: str) -> Path:
    """A temp folder as this project makes it: the marker names the process and the target."""
    import json

    from experiments.files import TMP_MARKER, WRITTEN_BY

    path.mkdir()
    marker = {"written_by": WRITTEN_BY, "pid": pid, "target": target}
    (path / TMP_MARKER).write_text(json.dumps(marker))
    return path


def test_leftovers_of_killed_runs_are_removed_and_a_half_swap_is_restored(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale = _marked_temp(tmp_path / f".out.tmp-{dead}-abc", dead, "out")
    (stale / "timeseries.parquet").write_bytes(b"x" * 1000)
    running = _marked_temp(tmp_path / f".out.tmp-{alive}-def", alive, "out")
    other = _marked_temp(tmp_path / f".other.tmp-{dead}-def", dead, "other")  # not this target
    # this target's swap was killed between its two renames: the previous results are in .old
    assert _main(*RUN, "--out", str(tmp_path / "first")) == 0
    previous = (tmp_path / "first" / "manifest.json").read_text()
    (tmp_path / "first").rename(tmp_path / f".out.old-{dead}-ghi")
    with OutputFolder(tmp_path / "out").prepare():
        assert (tmp_path / "out" / "manifest.json").read_text() == previous  # put back
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["out", running.name, other.name])
    assert _main(*RUN, "--out", str(tmp_path / "out"), "--seed", "3") == 0  # then replaced
    assert (tmp_path / "out" / "manifest.json").read_text() != previous


@pytest.mark.parametrize("engine", ["vectorized", "radcad"])
def test_an_invariant_breach_exits_3_with_one_line_and_writes_nothing(
    tmp_path, capsys, every_run_breaks, engine
):
    out = tmp_path / "out"
    assert _main(*RUN, "--engine", engine, "--set", "fee_pool_share=1", "--out", str(out)) == 3
    line = _one_error_line(capsys)
    assert line.startswith("error: invariant broken: conservation of the 240M max supply")
    assert "subset 0 run 1 on day 0" in line and "fee_pool_share=1.0" in line
    assert list(tmp_path.iterdir()) == []


def test_the_guard_names_the_invariant_subset_run_day_and_overrides():
    import numpy as np

    names = [
        "conservation_residual",
        "price_usd",
        "circulating",
        "vesting_locked",
        "reward_pool",
        "staked",
        "unstaking",
        "unclaimed_rewards",
        "amm_sesh",
    ]
    cases = {
        "non-finite": (2, np.nan, "a non-finite value (circulating)"),
        "conservation": (0, 1e3, "conservation of the 240M max supply"),
        "negative": (8, -5.0, "no negative stock (amm_sesh)"),
        "price": (1, 0.0, "price_usd > 0"),
    }
    parameters = Parameters(fee_pool_share=1.0)
    for row, value, text in cases.values():
        values = np.ones((len(names), 3))
        values[0] = 0.0
        values[row, 2] = value
        with pytest.raises(InvariantError) as caught:
            check_day(
                values, names, 12, np.array([0, 1, 1]), np.array([1, 1, 2]), lambda i: parameters
            )
        message = str(caught.value)
        assert text in message and "subset 1 run 2 on day 12" in message
        assert "fee_pool_share=1.0" in message and "\n" not in message


def test_whole_runs_pass_the_guard_on_every_engine():
    for engine in ("vectorized", "radcad", "cadcad"):
        frame = simulate([Parameters()], runs=2, years=0.3, seed=1, engine=engine)
        assert len(frame) == 2 * (110 + 1)


# --- corrupt or incomplete inputs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("saved") / "good"
    assert _main(*RUN, "--out", str(out)) == 0
    return out


def _copy(saved, tmp_path, name):
    import shutil

    return Path(shutil.copytree(saved, tmp_path / "res" / name))


def test_report_on_a_parquet_without_price_fails_with_one_line(saved, tmp_path, capsys):
    import pandas as pd

    bad = _copy(saved, tmp_path, "bad")
    frame = pd.read_parquet(bad / "timeseries.parquet").drop(columns=["price_usd"])
    frame.to_parquet(bad / "timeseries.parquet")
    before = (bad / "report.html").read_bytes()
    assert _main("report", str(bad)) == 2
    assert "missing column 'price_usd'" in _one_error_line(capsys)
    assert (bad / "report.html").read_bytes() == before


@pytest.mark.parametrize(
    "manifest", ['{"experiment": 3}', '{"subsets": "x"}', "[1, 2]", '{"runs": "many"}', "{"]
)
def test_report_on_a_hand_edited_manifest_fails_with_one_line(saved, tmp_path, capsys, manifest):
    bad = _copy(saved, tmp_path, "bad")
    (bad / "manifest.json").write_text(manifest)
    assert _main("report", str(bad)) == 2
    assert "manifest.json" in _one_error_line(capsys)


def test_publish_skips_a_broken_folder_with_a_warning(saved, tmp_path, capsys):
    _copy(saved, tmp_path, "good")
    broken = _copy(saved, tmp_path, "broken")
    (broken / "manifest.json").write_text('{"subsets": 5}')
    site = tmp_path / "site"
    assert _main("publish", str(tmp_path / "res"), str(site)) == 0
    err = capsys.readouterr().err
    assert "warning: skipping" in err and "broken" in err
    assert (site / "good" / "index.html").is_file() and not (site / "broken").exists()


def test_publish_with_nothing_readable_fails(saved, tmp_path, capsys):
    broken = _copy(saved, tmp_path, "broken")
    (broken / "manifest.json").write_text('{"subsets": 5}')
    assert _main("publish", str(tmp_path / "res"), str(tmp_path / "site")) == 2
    assert not (tmp_path / "site").exists()


def test_a_truncated_golden_file_is_one_line_and_exit_2(tmp_path, capsys):
    from experiments.analysis.regress import GOLDEN_DIR

    text = (GOLDEN_DIR / "baseline.json").read_text()
    (tmp_path / "baseline.json").write_text(text[: len(text) // 3])
    assert _main("regress", "baseline", "--golden-dir", str(tmp_path)) == 2
    assert "invalid golden file" in _one_error_line(capsys)


def test_regress_update_into_an_unwritable_folder_fails_before_running(
    tmp_path, capsys, monkeypatch
):
    from experiments.analysis import regress

    monkeypatch.setattr(regress, "run_case", lambda *a: pytest.fail("ran before the probe"))
    (tmp_path / "file").write_text("x")
    assert _main("regress", "--update", "--golden-dir", str(tmp_path / "file" / "golden")) == 2
    assert "cannot write --golden-dir" in _one_error_line(capsys)


def test_a_horizon_under_one_day_is_refused_and_short_kpis_say_why(tmp_path, capsys):
    import json

    assert _main("run", "baseline", "--years", "0.001", "--out", str(tmp_path / "a")) == 2
    assert "invalid years" in _one_error_line(capsys)
    assert _main(*RUN, "--out", str(tmp_path / "b")) == 0
    err = capsys.readouterr().err
    assert "need a longer horizon" in err and "reward_pool_1y" in err
    document = json.loads((tmp_path / "b" / "kpis.json").read_text())
    notes = document["subsets"]["0"]["not_available"]
    assert notes["reward_pool_1y"].startswith("not available: needs a horizon of 365 days")
    assert "nodes_end" not in notes  # available on any horizon


def test_a_parameter_set_twice_is_refused(tmp_path, capsys, no_simulation):
    args = ("--set", "staking_requirement=1000", "--set", "staking_requirement=2000")
    assert _main(*RUN, *args, "--out", str(tmp_path / "o")) == 2
    assert "set twice" in _one_error_line(capsys)


def test_explore_on_a_port_in_use_is_one_line_and_exit_2(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert _main("explore", "--port", str(port)) == 2
    assert "cannot serve on 127.0.0.1" in _one_error_line(capsys)
