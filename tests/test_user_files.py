"""A user's files are never lost (issue 19, sections 2 and 4): an output folder is this project's
only by its manifest, never by file names; --force writes beside the user's entries and keeps
them; start-up clean-up touches only this target's marked temp folders of dead processes; a
symlink loop, a mount point or a full disk is one line and exit 2 with nothing left behind; a
command killed half-way leaves something the next one recovers."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli
from experiments.files import BEING_REPLACED, TMP_MARKER, WRITTEN_BY, OutputFolder
from experiments.reporting import publish

RUN = ("run", "baseline", "--runs", "2", "--years", "0.1")
ROOT = Path(__file__).resolve().parent.parent


def _main(*args: str) -> int:
    try:
        return cli.main([str(a) for a in args])
    except SystemExit as stop:
        return stop.code


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder` (links not followed): a file's bytes, None for a folder."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _manifest(folder: Path, name: str = "manifest.json") -> dict:
    return json.loads((folder / name).read_text())


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    )
    return int(done.stdout)


@pytest.fixture(scope="module")
def results_root(tmp_path_factory) -> Path:
    """RESULTS_DIR for publish: one small results folder, `baseline`."""
    root = tmp_path_factory.mktemp("results")
    assert _main(*RUN, "--out", root / "baseline") == 0
    return root


# --- section 2: publish ----------------------------------------------------------------------


def _users_site(site: Path) -> None:
    """The issue's folder: an index.html, a thesis and a photo, all the user's."""
    (site / "docs").mkdir(parents=True)
    (site / "index.html").write_text("x")
    (site / "docs" / "thesis.tex").write_text("t")
    (site / "photo.jpg").write_text("p")


@pytest.mark.parametrize("force", [False, True])
def test_publish_never_deletes_a_folder_that_merely_holds_an_index_html(
    results_root, tmp_path, capsys, force
):
    site = tmp_path / "S"
    _users_site(site)
    before = _tree(site)
    assert _main("publish", results_root, site, *(["--force"] if force else [])) == 2
    line = _one_error_line(capsys)
    assert "index.html" in line and "did not write" in line
    assert _tree(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S"]  # no temp folder or lock left


def test_a_file_added_to_a_published_site_is_kept(results_root, tmp_path, capsys):
    site = tmp_path / "site"
    assert _main("publish", results_root, site) == 0
    assert _manifest(site, publish.SITE_MANIFEST)["written_by"] == WRITTEN_BY
    (site / "notes.txt").write_text("mine")
    (site / "baseline" / "draft.md").write_text("mine too")  # inside a report's folder
    assert _main("publish", results_root, site) == 2  # without --force: refused, as before
    assert "notes.txt" in _one_error_line(capsys)
    assert (site / "notes.txt").read_text() == "mine"
    (site / "index.html").write_text("stale")
    assert _main("publish", results_root, site, "--force") == 0  # beside them, keeping them
    assert (site / "notes.txt").read_text() == "mine"
    assert (site / "baseline" / "draft.md").read_text() == "mine too"
    assert "baseline/index.html" in (site / "index.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_report_dropped_from_the_site_goes_but_a_users_file_beside_it_stays(
    results_root, tmp_path
):
    results = tmp_path / "results"
    shutil.copytree(results_root / "baseline", results / "a")
    shutil.copytree(results_root / "baseline", results / "b")
    site = tmp_path / "site"
    assert _main("publish", results, site) == 0
    (site / "b" / "draft.md").write_text("mine")
    shutil.rmtree(results / "b")
    assert _main("publish", results, site, "--force") == 0
    assert sorted(_manifest(site, publish.SITE_MANIFEST)["files"]) == [
        publish.SITE_MANIFEST,
        publish.ASSUMPTIONS_FILE,
        "a/index.html",
        "index.html",
        publish.PLOTLY_FILE,
    ]
    assert sorted(_tree(site / "b")) == ["draft.md"]  # the report went, the user's file stayed


def test_publishing_again_over_a_plain_site_replaces_it_as_a_whole(results_root, tmp_path):
    site = tmp_path / "site"
    assert _main("publish", results_root, site) == 0
    inode = site.stat().st_ino
    assert _main("publish", results_root, site) == 0
    assert site.stat().st_ino != inode  # swapped whole: readers see one site or the other
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


# --- section 2: --out -----------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_named_like_a_result_file_is_never_deleted(tmp_path, capsys, force):
    out = tmp_path / "O"
    (out / "kpis.json").mkdir(parents=True)
    (out / "kpis.json" / "mine.txt").write_text("x")
    assert _main(*RUN, "--out", out, *(["--force"] if force else [])) == 2
    assert "kpis.json" in _one_error_line(capsys)
    assert (out / "kpis.json" / "mine.txt").read_text() == "x"


@pytest.mark.parametrize("name", ["report.html", "comparison.csv", "manifest.json"])
def test_a_users_file_named_like_a_result_is_not_overwritten(tmp_path, capsys, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text('{"mine": true}')  # a manifest.json, too, needs this project's mark
    for force in ([], ["--force"]):
        assert _main(*RUN, "--out", out, *force) == 2
        assert name in _one_error_line(capsys)
        assert _tree(out) == {name: b'{"mine": true}'}


def test_a_users_file_named_like_a_result_that_appears_during_the_run_stops_the_write(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    real_execute = cli.execute

    def execute_then_user_writes(*args, **kwargs):
        done = real_execute(*args, **kwargs)
        (out / "kpis.csv").write_text("the user's")
        return done

    monkeypatch.setattr(cli, "execute", execute_then_user_writes)
    assert _main(*RUN, "--out", out, "--force") == 2
    assert "kpis.csv" in _one_error_line(capsys)
    assert _tree(out) == {"kpis.csv": b"the user's", "notes.txt": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_replaces_only_the_files_the_previous_manifest_lists(tmp_path, capsys):
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    assert _manifest(out)["written_by"] == WRITTEN_BY
    assert "timeseries.parquet" in _manifest(out)["files"]
    (out / "notes.txt").write_text("mine")
    (out / "photos").mkdir()
    (out / "photos" / "photo.jpg").write_bytes(b"jpg")
    assert _main(*RUN, "--out", out) == 2  # not without --force
    assert "notes.txt" in _one_error_line(capsys)
    assert _main(*RUN, "--kpi-only", "--seed", "5", "--out", out, "--force") == 0
    manifest = _manifest(out)
    assert manifest["seed"] == 5 and "timeseries.parquet" not in manifest["files"]
    assert not (out / "timeseries.parquet").exists()  # written before, not now: removed
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*manifest["files"], "notes.txt", "photos"]
    )
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "photos" / "photo.jpg").read_bytes() == b"jpg"
    assert "state" not in manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_results_folder_is_recognised_by_its_manifest_not_by_its_names(tmp_path, capsys):
    """A folder holding exactly the result files' names but no manifest of this project's is the
    user's; a results folder whose manifest lost its mark is too."""
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    manifest = _manifest(out)
    del manifest["written_by"]
    manifest["command"] = ["make", "my-own-thing"]  # not the command this project records
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = _tree(out)
    assert _main(*RUN, "--out", out, "--force") == 2
    assert "manifest.json" in _one_error_line(capsys)
    assert _tree(out) == before


def test_results_written_before_manifests_were_marked_are_still_replaced(tmp_path):
    """v0.2.0 wrote manifests without `written_by` (command, experiment, packages, revision and
    the files it wrote): `make run` on such a folder replaces the listed files, keeps the rest."""
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    manifest = _manifest(out)
    del manifest["written_by"]
    manifest["command"] = ["python", "-m", "experiments", "run", "baseline"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "notes.txt").write_text("mine")
    assert _main(*RUN, "--out", out) == 2  # a foreign file still needs --force
    assert _main(*RUN, "--out", out, "--force") == 0
    assert _manifest(out)["written_by"] == "sesh-economy-model"
    assert (out / "notes.txt").read_text() == "mine"


def test_removing_old_site_files_never_follows_a_link_out_of_the_site(tmp_path):
    """A folder of an earlier site replaced by a link to the user's own folder: the files the old
    manifest lists under it are not removed through the link."""
    results = tmp_path / "R"
    assert _main(*RUN, "--out", results / "base") == 0
    assert _main(*RUN, "--out", results / "other") == 0
    site = tmp_path / "S"
    assert _main("publish", results, site) == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("my page")
    shutil.rmtree(site / "base")
    (site / "base").symlink_to(mine)
    shutil.rmtree(results / "base")
    assert _main("publish", results, site, "--force") == 0
    assert (mine / "index.html").read_text() == "my page"


# --- section 2: start-up clean-up ----------------------------------------------------------------


def test_start_up_clean_up_leaves_other_folders_alone(tmp_path):
    """The issue's reproduction, plus look-alikes named for this very target but without this
    project's marker."""
    parent = tmp_path / "P"
    for name in (".thesis.tmp-2024-backup", ".photos.old-1999-archive"):
        (parent / name / "chapter").mkdir(parents=True)
        (parent / name / "chapter" / "one.tex").write_text(name)
    dead = _dead_pid()
    for name in (f".res.tmp-{dead}-backup", f".res.old-{dead}-archive"):
        (parent / name).mkdir()
        (parent / name / "kpis.json").write_text("my own")
    before = _tree(parent)
    assert _main("run", "baseline", "--runs", "5", "--years", "1", "--out", parent / "res") == 0
    after = _tree(parent)
    assert {k: v for k, v in after.items() if not k.startswith("res")} == before


def test_only_a_marked_temp_folder_of_a_dead_process_for_this_target_is_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()

    def temp(name: str, pid: int, target: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        marker = {"written_by": WRITTEN_BY, "pid": pid, "target": target}
        (path / TMP_MARKER).write_text(json.dumps(marker))
        (path / "kpis.json").write_text("half")
        return path

    stale = temp(f".out.tmp-{dead}-a", dead, "out")
    kept = [
        temp(f".out.tmp-{alive}-b", alive, "out"),  # a command still running
        temp(f".other.tmp-{dead}-c", dead, "other"),  # another target's
        temp(f".out.tmp-{dead}-d", dead, "elsewhere"),  # the marker names another target
        temp(f".out.tmp-{dead}-e", dead + 1, "out"),  # the marker names another process
    ]
    folder = OutputFolder(tmp_path / "out")
    assert folder.clean_leftovers() == [stale]
    assert all(path.is_dir() for path in kept) and not stale.exists()


def test_a_half_swap_is_put_back_only_from_this_projects_results(tmp_path):
    dead = _dead_pid()
    assert _main(*RUN, "--out", tmp_path / "first") == 0
    previous = _tree(tmp_path / "first")
    (tmp_path / "first").rename(tmp_path / f".out.old-{dead}-x")
    (tmp_path / "notes.txt").write_text("mine")
    OutputFolder(tmp_path / "out").clean_leftovers()
    assert _tree(tmp_path / "out") == previous
    # the same folder with a file of the user's inside is left where it is
    (tmp_path / "out").rename(tmp_path / f".out.old-{dead}-y")
    (tmp_path / f".out.old-{dead}-y" / "notes.txt").write_text("mine")
    assert OutputFolder(tmp_path / "out").clean_leftovers() == []
    assert not (tmp_path / "out").exists()


def test_a_users_file_where_the_lock_would_go_is_kept(tmp_path, capsys, no_simulation):
    (tmp_path / ".out.lock").write_text("my notes about out")
    assert _main(*RUN, "--out", tmp_path / "out") == 2
    assert ".out.lock" in _one_error_line(capsys)
    assert _tree(tmp_path) == {".out.lock": b"my notes about out"}


# --- section 2: killed half-way ------------------------------------------------------------------

KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from experiments import cli
kind, out = sys.argv[1], sys.argv[2]
rename, replace, calls = Path.rename, os.replace, []

def killing_rename(self, target):  # killed between the swap's two renames
    if self.name.startswith(f".{Path(out).name}.tmp-"):
        os.kill(os.getpid(), signal.SIGKILL)
    return rename(self, target)

def killing_replace(source, target):  # killed after the manifest and one file were replaced
    if Path(target).parent == Path(out):
        calls.append(target)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return replace(source, target)

if kind == "swap":
    Path.rename = killing_rename
else:
    os.replace = killing_replace
cli.main(["run", "baseline", "--runs", "2", "--years", "0.1", "--seed", "9", "--force",
          "--kpi-only", "--out", out])
"""


def _killed_run(kind: str, out: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, kind, str(out)], cwd=ROOT, capture_output=True
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


def test_a_run_killed_between_the_swaps_renames_is_recovered(tmp_path):
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    previous = _tree(out)
    _killed_run("swap", out)
    assert not out.exists()  # the moment the kill left: the previous results beside it
    assert _main(*RUN, "--seed", "4", "--out", out) == 0  # put back, then replaced
    assert _manifest(out)["seed"] == 4 and set(_tree(out)) == set(previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_run_killed_while_replacing_files_beside_the_users_is_recovered(tmp_path):
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    (out / "notes.txt").write_text("mine")
    _killed_run("file by file", out)
    manifest = _manifest(out)
    assert manifest["state"] == BEING_REPLACED and manifest["written_by"] == WRITTEN_BY
    ours = {p.name for p in out.iterdir()} - {"notes.txt"}
    assert ours <= set(manifest["files"])  # every file of ours in it is listed: none orphaned
    assert _main(*RUN, "--seed", "4", "--out", out, "--force") == 0
    manifest = _manifest(out)
    assert "state" not in manifest and manifest["seed"] == 4
    assert sorted(p.name for p in out.iterdir()) == sorted([*manifest["files"], "notes.txt"])
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_readers_see_the_manifest_marked_while_files_are_replaced_beside_the_users(
    tmp_path, monkeypatch
):
    """File by file, the manifest is the first thing replaced (marked "being replaced") and the
    last (complete): at no moment does an unmarked manifest list a mix of old and new files."""
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    (out / "notes.txt").write_text("mine")
    old = _manifest(out)
    seen = []
    replace = os.replace

    def watching_replace(source, target):
        replace(source, target)
        if Path(target).parent == out:  # not the report's own atomic write in the temp folder
            seen.append((Path(target).name, _manifest(out)))

    monkeypatch.setattr(os, "replace", watching_replace)
    assert _main(*RUN, "--seed", "4", "--out", out, "--force") == 0
    assert seen[0] == ("manifest.json", seen[0][1]) and seen[0][1]["state"] == BEING_REPLACED
    assert set(seen[0][1]["files"]) >= set(old["files"])
    assert all(m.get("state") == BEING_REPLACED for _, m in seen[:-1])
    assert seen[-1][0] == "manifest.json" and seen[-1][1]["seed"] == 4
    assert "state" not in seen[-1][1] and len(seen) == len(seen[-1][1]["files"]) + 1


# --- section 4: --out and SITE_DIR failures of the OS --------------------------------------------


def _loop(tmp_path: Path) -> Path:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


def test_an_out_in_a_symlink_loop_is_one_line_before_simulating(tmp_path, capsys, no_simulation):
    a = _loop(tmp_path)
    for out in (a, a / "deeper"):
        assert _main(*RUN, "--out", out) == 2
        line = _one_error_line(capsys)
        assert f"invalid --out '{out}'" in line and "loop" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert os.readlink(a) == str(tmp_path / "b")


def test_a_site_dir_in_a_symlink_loop_is_one_line(results_root, tmp_path, capsys):
    a = _loop(tmp_path)
    assert _main("publish", results_root, a) == 2
    assert "invalid SITE_DIR" in (line := _one_error_line(capsys)) and "loop" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.skipif(not os.path.ismount("/proc"), reason="no /proc mount here")
def test_a_real_mount_point_as_out_is_one_line_before_simulating(capsys, no_simulation):
    assert _main(*RUN, "--out", "/proc") == 2
    assert "mount point" in _one_error_line(capsys)


def test_a_mount_point_as_out_or_site_dir_is_one_line(
    results_root, tmp_path, capsys, monkeypatch, no_simulation
):
    mounted = tmp_path / "mnt"
    mounted.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == mounted or real(p))
    assert _main(*RUN, "--out", mounted) == 2
    line = _one_error_line(capsys)
    assert "mount point" in line and f"'{mounted / 'results'}'" in line  # what would do
    assert _main("publish", results_root, mounted) == 2
    assert "invalid SITE_DIR" in (line := _one_error_line(capsys)) and "mount point" in line
    assert _tree(tmp_path) == {"mnt": None}


def _disk_full(monkeypatch, after: int = 0) -> None:
    """DataFrame.to_csv writes a little, then fails as on a full disk (after `after` calls)."""
    real, calls = pd.DataFrame.to_csv, []

    def full(self, path=None, *args, **kwargs):
        calls.append(path)
        if len(calls) <= after:
            return real(self, path, *args, **kwargs)
        Path(path).write_text("half a ")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)


def test_a_full_disk_keeps_the_previous_results_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    previous = _tree(out)
    capsys.readouterr()
    _disk_full(monkeypatch)
    assert _main(*RUN, "--seed", "4", "--out", out) == 2
    line = _one_error_line(capsys)
    assert f"cannot write --out '{out}'" in line and "No space left on device" in line
    assert _tree(out) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp folder, no lock


def test_a_full_disk_on_a_new_out_leaves_nothing(tmp_path, capsys, monkeypatch):
    _disk_full(monkeypatch)
    assert _main(*RUN, "--out", tmp_path / "new" / "out") == 2
    assert "No space left on device" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_beside_the_users_files_changes_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    (out / "notes.txt").write_text("mine")
    previous = _tree(out)
    capsys.readouterr()
    _disk_full(monkeypatch)
    assert _main(*RUN, "--seed", "4", "--out", out, "--force") == 2
    assert "No space left on device" in _one_error_line(capsys)
    assert _tree(out) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_full_disk_while_publishing_keeps_the_previous_site(
    results_root, tmp_path, capsys, monkeypatch
):
    site = tmp_path / "site"
    assert _main("publish", results_root, site) == 0
    previous = _tree(site)

    def full(source, target, *args, **kwargs):
        Path(target).write_text("half a ")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(publish.shutil, "copyfile", full)
    capsys.readouterr()
    assert _main("publish", results_root, site) == 2
    line = _one_error_line(capsys)
    assert f"cannot write SITE_DIR '{site}'" in line and "No space left on device" in line
    assert _tree(site) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_an_out_that_cannot_be_read_is_one_line(tmp_path, capsys, monkeypatch, no_simulation):
    out = tmp_path / "out"
    out.mkdir()
    scandir = os.scandir

    def refused(path="."):
        if Path(path) == out:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refused)
    assert _main(*RUN, "--out", out) == 2
    line = _one_error_line(capsys)
    assert f"cannot read --out '{out}'" in line and "Permission denied" in line


def test_a_failure_while_replacing_beside_the_users_files_is_one_line_and_recoverable(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    assert _main(*RUN, "--out", out) == 0
    (out / "notes.txt").write_text("mine")
    replace, calls = os.replace, []

    def failing_replace(source, target):
        if Path(target).parent == out:
            calls.append(target)
            if len(calls) == 3:  # the manifest and one file are in: then the disk goes
                raise OSError(errno.EIO, os.strerror(errno.EIO), str(target))
        return replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    capsys.readouterr()
    assert _main(*RUN, "--seed", "4", "--out", out, "--force") == 2
    line = _one_error_line(capsys)
    assert "Input/output error" in line and "being replaced" in line
    manifest = _manifest(out)
    assert manifest["state"] == BEING_REPLACED
    assert {p.name for p in out.iterdir()} - {"notes.txt"} <= set(manifest["files"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # its temp folder removed
    monkeypatch.setattr(os, "replace", replace)
    assert _main(*RUN, "--seed", "4", "--out", out, "--force") == 0
    assert "state" not in _manifest(out) and (out / "notes.txt").read_text() == "mine"


def test_a_lock_file_unlinked_by_its_holder_as_it_is_opened_is_not_taken(tmp_path, monkeypatch):
    """The lock is released by unlinking then closing: a command that opened the old file just
    before must not count a lock on that orphan as the target's lock."""
    import builtins

    from experiments import files

    folder = files.OutputFolder(tmp_path / "out")
    real_open = builtins.open

    def open_then_lose(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        if str(path).endswith(".out.lock"):
            os.unlink(path)  # the holder's release, between our open and our flock
        return handle

    monkeypatch.setattr(builtins, "open", open_then_lose)
    with pytest.raises(files.OutputError, match="another command is writing it"):
        folder._take_lock()
