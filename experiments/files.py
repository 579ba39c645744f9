"""Atomic writes: one file (`write_text_atomically`) or a whole folder (`write_folder_atomically`).

Readers never see half a file or half a results folder: everything is written beside the target
and renamed over it. Used by the results folder, the report, publish and the golden KPI files.
Imports nothing of the project.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def umask() -> int:
    """The process's file-creation mask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomically(target: Path, text: str) -> None:
    """Write beside the target, then rename over it: readers never see half a file."""
    target = Path(target)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(name, 0o666 & ~umask())
        os.replace(name, target)
    finally:
        if os.path.exists(name):
            os.unlink(name)


class OutputError(Exception):
    """An output folder that cannot (or must not) be written: one line, exit status 2."""


def probe_writable(folder: Path, what: str) -> None:
    """Write and remove a probe file in `folder`: OutputError (one line) if it cannot be written."""
    folder = Path(folder)
    try:
        handle, name = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        raise OutputError(f"cannot write {what} '{folder}': {error.strerror or error}") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class OutputFolder:
    """A folder that a command replaces as a whole, made safe before any long work starts.

    `prepare()` (a context manager held for the whole command):
    - resolves a symlinked target, so the results are written through it (the link stays);
    - refuses a target that is not a folder, or a folder holding anything but `own` files (this
      project's result files) unless `force`;
    - creates the parent and writes a probe file there, so an unwritable target fails in
      seconds, not after the simulation;
    - takes a lock (`.NAME.lock` beside the target, `fcntl.flock`), so a second command writing
      the same target fails at once;
    - removes temp folders (`.NAME.tmp-PID-*`, `.NAME.old-PID-*`) that killed commands left in
      the parent, when their process is gone.
    On leaving, the lock is released and a parent it created is removed again if still empty.
    `write(fill)` then fills a temp folder and swaps it in atomically.
    """

    def __init__(self, target: Path, own: Sequence[str] = (), force: bool = False, what="--out"):
        self.given = Path(target).absolute()
        self.target = Path(os.path.realpath(self.given))
        self.own = set(own)
        self.force = force
        self.what = what
        self._lock = None
        self._created: list[Path] = []

    # -- checks ------------------------------------------------------------------------------
    def check(self) -> None:
        target = self.target
        if target.exists() and not target.is_dir():
            raise OutputError(f"invalid {self.what} '{self.given}': exists and is not a folder")
        if target.is_dir() and not self.force:
            foreign = sorted(p.name for p in target.iterdir() if p.name not in self.own)
            if foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise OutputError(
                    f"invalid {self.what} '{self.given}': it holds files that are not this "
                    f"project's results ({shown}); choose another folder or add --force to "
                    "replace it"
                )

    def _make_parent(self) -> None:
        missing = []
        parent = self.target.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"cannot write {self.what} '{self.given}': {error.strerror or error}"
            ) from None
        self._created = missing  # deepest first

    def _probe(self) -> None:
        probe_writable(self.target.parent, f"{self.what} '{self.given}' (its parent)")

    def _take_lock(self) -> None:
        import fcntl

        path = self.target.parent / f".{self.target.name}.lock"
        handle = open(path, "a+")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise OutputError(
                f"invalid {self.what} '{self.given}': another command is writing it "
                f"(process {owner}); wait for it or choose another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = (handle, path)

    def _release_lock(self) -> None:
        if self._lock is None:
            return
        handle, path = self._lock
        self._lock = None
        try:
            path.unlink()
        except OSError:
            pass
        handle.close()

    def clean_leftovers(self) -> list[Path]:
        """Remove temp folders of killed commands (their process is gone) beside the target.

        A `.NAME.old-*` folder whose NAME no longer exists is a swap stopped half-way: it holds
        the only copy of NAME's previous results, so it is put back instead of removed.
        """
        removed = []
        for kind in ("tmp", "old"):
            for path in self.target.parent.glob(f".*.{kind}-*"):
                name, _, rest = path.name[1:].rpartition(f".{kind}-")
                pid_text = rest.split("-", 1)[0]
                if not name or not pid_text.isdigit() or _alive(int(pid_text)):
                    continue
                home = path.parent / name
                if kind == "old" and not home.exists():
                    path.rename(home)
                    continue
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    @contextlib.contextmanager
    def prepare(self):
        self.check()
        self._make_parent()
        try:
            self._probe()
            self._take_lock()
            try:
                self.clean_leftovers()
                self.check()  # again, under the lock
                yield self
            finally:
                self._release_lock()
        finally:
            for path in self._created:
                _remove_if_empty(path)

    # -- writing -----------------------------------------------------------------------------
    def write(self, fill: Callable[[Path], None]) -> None:
        write_folder_atomically(self.target, fill)


def write_folder_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Write into a temp folder beside `out`, then swap it in; on any failure leave no trace.

    An existing `out` is renamed away, the new folder renamed in, then the old one deleted: each
    rename is atomic, so `out` is always a complete result set (or briefly absent). The temp
    names carry this process's id, so a later command can tell leftovers of a killed one.
    """
    out = Path(out)
    created_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    tmp.chmod(0o777 & ~umask())  # mkdtemp makes it private; results are ordinary files
    old = out.parent / f".{out.name}.old-{os.getpid()}-{tmp.name.rsplit('-', 1)[-1]}"
    try:
        write(tmp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists():
            if out.exists():  # the new results are in place
                shutil.rmtree(old, ignore_errors=True)
            else:  # stopped between the two renames: put the previous results back
                old.rename(out)
        if created_parent and not out.exists():
            _remove_if_empty(out.parent)


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def json_text(document: Any) -> str:
    """Plain JSON text (indent 2, trailing newline): numpy scalars as Python numbers, NaN and
    infinities as null."""
    return json.dumps(jsonable(document), indent=2, allow_nan=False) + "\n"


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars as Python numbers and non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
