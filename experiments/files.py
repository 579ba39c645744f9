"""Atomic writes (`write_text_atomically`, `write_folder_atomically`) and output folders that may
also hold the user's files (`OutputFolder`). Imports nothing of the project.

What is this project's. A folder is this project's output only if it holds this project's
manifest: a JSON file (a results folder's `manifest.json`, a published site's `.sesh-site.json`)
whose `"written_by"` is `"sesh-economy-model"` and whose `"files"` lists every file the command
wrote, as relative paths. Only those files (regular files: never a folder or a link, whatever its
name) are this project's, with the folders that hold them; every other entry is the user's and is
never removed, renamed or overwritten. Names alone decide nothing: a `report.html` or an
`index.html` that no manifest lists is the user's.

Replacing. `write_folder_atomically` fills a temp folder beside the target
(`.NAME.tmp-PID-XXXX`, holding a `.sesh-tmp` marker with the process id and the target's name),
then:
- the target is missing, or holds only the files its manifest lists: the whole folder is swapped
  (the old one renamed to `.NAME.old-PID-XXXX`, the new one renamed in, then the old one's listed
  files and the emptied folder removed). Each rename is atomic, so readers see the old complete
  results or the new complete results.
- the target also holds the user's entries (allowed with --force): the folder stays where it is
  (it is the user's) and is updated file by file. First a manifest listing the old and the new
  files with `"state": "being replaced"` goes in, then every new file replaces its old one
  (`os.replace`, atomic per file), old files no longer written are removed, and the complete new
  manifest goes in last. Readers see the old complete results, then a manifest that says it is
  being replaced, then the new complete results; the user's entries are not touched. If a user's
  entry stands where a new file would go, the write stops before changing anything.
Killed half-way, a command leaves something recoverable: before the target changes, only its temp
folder (removed by the next command for that target); between the two renames of a swap, the
previous results in `.NAME.old-PID-XXXX` (put back by the next command); during a file-by-file
update, a folder whose manifest lists every file of this project in it, so the next command
replaces them all. The next command for the same target cleans up only temp folders named for
that target, holding this project's marker or manifest, whose process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

WRITTEN_BY = "sesh-economy-model"  # the manifest field that marks a folder as this project's
MANIFEST = "manifest.json"  # a results folder's manifest
TMP_MARKER = ".sesh-tmp"  # inside a temp folder: {"written_by", "pid", "target"}
BEING_REPLACED = "being replaced"  # a manifest's "state" during a file-by-file update


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


class HalfReplaced(OSError):
    """A file-by-file update stopped after it began: the folder's manifest says so."""


def probe_writable(folder: Path, what: str) -> None:
    """Write and remove a probe file in `folder`: OutputError (one line) if it cannot be written."""
    folder = Path(folder)
    try:
        handle, name = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        raise OutputError(f"cannot write {what} '{folder}': {error.strerror or error}") from None


# --- what is this project's ---------------------------------------------------------------------


def manifest_document(files: Iterable[str], **fields: Any) -> dict[str, Any]:
    """A manifest marking a folder as this project's: `fields`, then the files it wrote."""
    return {"written_by": WRITTEN_BY, **fields, "files": sorted(set(files))}


def _safe_relative(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and "\x00" not in name
        and not path.is_absolute()
        and path.as_posix() == name
        and all(part not in ("", ".", "..") for part in path.parts)
    )


def owned_files(folder: Path, manifest: str = MANIFEST) -> set[str] | None:
    """The files this project's manifest in `folder` lists (with the manifest itself), or None
    when there is no such manifest: the folder is then not this project's output."""
    path = Path(folder) / manifest
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or not (
        document.get("written_by") == WRITTEN_BY or _legacy_results_manifest(document, manifest)
    ):
        return None
    files = document.get("files")
    if not isinstance(files, list) or not all(
        isinstance(f, str) and _safe_relative(f) for f in files
    ):
        return None
    return {*files, manifest}


def _legacy_results_manifest(document: dict[str, Any], manifest: str) -> bool:
    """A results manifest written before manifests carried `written_by` (v0.2.0 and earlier):
    the command this project records, its experiment, package versions and revision, and the
    list of files it wrote. Such folders keep being replaced (only the files they list)."""
    command = document.get("command")
    return (
        manifest == MANIFEST
        and "written_by" not in document
        and isinstance(command, list)
        and command[:3] == ["python", "-m", "experiments"]
        and isinstance(document.get("experiment"), str)
        and isinstance(document.get("packages"), dict)
        and "git_revision" in document
        and isinstance(document.get("files"), list)
    )


def _no_link_on_the_way(folder: Path, name: str) -> bool:
    """No folder between `folder` and its entry `name` is a symbolic link (a link there would
    lead a removal outside the folder)."""
    here = Path(folder)
    for part in PurePosixPath(name).parts[:-1]:
        here = here / part
        if here.is_symlink() or not here.is_dir():
            return False
    return True


def _folders_of(files: Iterable[str]) -> set[str]:
    """Every folder that holds one of `files` (relative paths), at any depth."""
    return {p.as_posix() for f in files for p in PurePosixPath(f).parents if p.as_posix() != "."}


def foreign_entries(folder: Path, owned: set[str] | None) -> list[str]:
    """The entries of `folder` that are not this project's (relative paths, sorted): anything but
    a regular file its manifest lists or a real folder holding one. A folder or link named like a
    listed file is foreign; inside foreign folders nothing is looked at."""
    owned = owned or set()
    folders = _folders_of(owned)
    found: list[str] = []

    def walk(directory: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False) and relative in folders:
                walk(Path(entry.path), relative + "/")
            elif not (entry.is_file(follow_symlinks=False) and relative in owned):
                found.append(relative)

    walk(Path(folder), "")
    return found


def _files_under(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def _remove_owned(folder: Path, owned: set[str]) -> None:
    """Remove the listed regular files in `folder`, then the folders they emptied (never a
    folder that still holds anything)."""
    for name in sorted(owned):
        path = folder / name
        with contextlib.suppress(OSError):
            if _no_link_on_the_way(folder, name) and stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
    for name in sorted(_folders_of(owned), key=lambda f: -f.count("/")):  # deepest first
        _remove_if_empty(folder / name)


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


# --- a folder replaced as a whole ---------------------------------------------------------------


def _temp_folder(out: Path) -> Path:
    """A temp folder beside `out` with this project's marker: the process id and the target."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes it private; results are ordinary files
        marker = {"written_by": WRITTEN_BY, "pid": os.getpid(), "target": out.name}
        (tmp / TMP_MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
    except BaseException:  # e.g. a full disk: no unmarked temp folder left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _is_our_temp(path: Path, target_name: str, pid: int) -> bool:
    """`path` holds the marker of a temp folder this project made for `target_name` in `pid`."""
    marker = path / TMP_MARKER
    try:
        if not stat.S_ISREG(marker.lstat().st_mode):
            return False
        document = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(document, dict)
        and document.get("written_by") == WRITTEN_BY
        and document.get("pid") == pid
        and document.get("target") == target_name
    )


def write_folder_atomically(
    out: Path, write: Callable[[Path], None], manifest: str = MANIFEST
) -> None:
    """Fill a temp folder beside `out` with `write(tmp)`, then put its files in place (see the
    module's docstring: a whole-folder swap, or file by file beside the user's entries). On a
    failure before `out` changes, `out` is as it was and no temp folder is left. `write` must
    write `manifest` (this project's, listing every file it wrote)."""
    out = Path(out)
    created_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        tmp = _temp_folder(out)
        write(tmp)
        _put_in_place(tmp, out, manifest)
    finally:
        if tmp is not None:  # made above by this process: all of it is ours
            shutil.rmtree(tmp, ignore_errors=True)
        if created_parent and not out.exists():
            _remove_if_empty(out.parent)


def _put_in_place(tmp: Path, out: Path, manifest: str) -> None:
    new = owned_files(tmp, manifest)
    if new is None:
        raise RuntimeError(f"the new {manifest} is missing or not this project's manifest")
    written = _files_under(tmp) - {TMP_MARKER}
    unlisted = sorted(written - new)
    if unlisted:  # they would count as the user's in the next run
        raise RuntimeError(f"written but not listed in {manifest}: {_shown(unlisted)}")
    if not os.path.lexists(out):
        (tmp / TMP_MARKER).unlink()
        tmp.rename(out)
        return
    if not stat.S_ISDIR(out.lstat().st_mode):
        raise OutputError(f"invalid output '{out}': exists and is not a folder")
    owned = owned_files(out, manifest) or set()
    if foreign_entries(out, owned):
        _replace_file_by_file(tmp, out, manifest, owned, written)
    else:
        _swap_whole(tmp, out, owned)


def _swap_whole(tmp: Path, out: Path, owned: set[str]) -> None:
    """`out` holds nothing but this project's files: rename it away, rename `tmp` in, remove the
    old one's files. Stopped between the renames, the old folder is put back."""
    old = out.parent / f".{out.name}.old-{os.getpid()}-{tmp.name.rsplit('-', 1)[-1]}"
    (tmp / TMP_MARKER).unlink()
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    _remove_owned(old, owned)
    _remove_if_empty(old)  # a file the user added in the last instant keeps it (and is kept)


def _replace_file_by_file(
    tmp: Path, out: Path, manifest: str, owned: set[str], written: set[str]
) -> None:
    """`out` also holds the user's entries: replace this project's files one by one, the
    manifest last; the user's entries are not touched."""
    in_the_way = sorted(f for f in written if _blocked(out, f, owned))
    if in_the_way:
        raise OutputError(
            f"invalid output '{out}': it holds {_shown(in_the_way)}, which this project did not "
            "write, where it would write its own; move or rename it (nothing was changed)"
        )
    interim = tmp / f".{manifest}.interim"
    interim.write_text(
        json.dumps(manifest_document(owned | written, state=BEING_REPLACED), indent=2) + "\n",
        encoding="utf-8",
    )
    os.replace(interim, out / manifest)  # from here on, every file of ours in `out` is listed
    try:
        for name in sorted(written - {manifest}):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, out / name)
        _remove_owned(out, owned - written - {manifest})
        os.replace(tmp / manifest, out / manifest)
    except OSError as error:
        raise HalfReplaced(error.errno, error.strerror or str(error)) from error


def _blocked(out: Path, name: str, owned: set[str]) -> bool:
    """A user's entry stands where the new file `name` would go (or where its folder would)."""
    path = PurePosixPath(name)
    for folder in reversed(path.parents[:-1]):  # outermost first
        here = out / folder
        if os.path.lexists(here) and not (here.is_dir() and not here.is_symlink()):
            return True
    target = out / name
    if not os.path.lexists(target):
        return False
    return name not in owned or not stat.S_ISREG(target.lstat().st_mode)


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


# --- a guarded output folder --------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _resolve(given: Path) -> tuple[Path, str | None]:
    """`given` with its links resolved, or (given, why) when they lead round in a loop."""
    try:
        return Path(os.path.realpath(given, strict=True)), None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return given, "its symbolic links lead round in a loop"
    except RuntimeError:  # pathlib's name for a loop
        return given, "its symbolic links lead round in a loop"
    return Path(os.path.realpath(given)), None  # missing (in part): created at the end


class OutputFolder:
    """A folder a command writes its output into, made safe before any long work starts.

    `check()` (cheap, before the work) refuses, in one line: a target whose symbolic links loop,
    that is not a folder, or is a mount point (it cannot be swapped; a folder inside it can); a
    user's entry named like something the command writes (`own`), whatever --force says; and,
    unless `force`, a folder holding anything that is not this project's (its `manifest` decides,
    see the module's docstring). With `force` the user's entries stay and the output is written
    beside them.

    `prepare()` (a context manager held for the whole command) checks, then:
    - resolves a symlinked target, so the output is written through it (the link stays);
    - creates the parent and writes a probe file there (and in the target, if it exists), so an
      unwritable target fails in seconds, not after the simulation;
    - takes a lock (`.NAME.lock` beside the target, `fcntl.flock`), so a second command writing
      the same target fails at once;
    - cleans up after killed commands for this target (`clean_leftovers`);
    and checks again under the lock. On leaving, the lock is released and a parent it created is
    removed again if still empty. `write(fill)` then fills a temp folder and puts it in place
    (`write_folder_atomically`); an OSError there (a full disk) is one line, with nothing left.
    """

    def __init__(
        self,
        target: Path,
        own: Sequence[str] = (),
        force: bool = False,
        what: str = "--out",
        manifest: str = MANIFEST,
    ):
        self.given = Path(target).absolute()
        self.target, self._unresolvable = _resolve(self.given)
        self.own = {*own, manifest}
        self.force = force
        self.what = what
        self.manifest = manifest
        self._lock = None
        self._created: list[Path] = []

    # -- checks ------------------------------------------------------------------------------
    def _invalid(self, why: str) -> OutputError:
        return OutputError(f"invalid {self.what} '{self.given}': {why}")

    def check(self) -> None:
        try:
            self._check()
        except OSError as error:  # e.g. a folder it may not read
            raise OutputError(
                f"cannot read {self.what} '{self.given}': {error.strerror or error}"
            ) from None

    def _check(self) -> None:
        if self._unresolvable:
            raise self._invalid(f"{self._unresolvable}; point it at a folder or a new path")
        target = self.target
        if os.path.lexists(target) and not target.is_dir():
            raise self._invalid("exists and is not a folder")
        if os.path.ismount(target):
            raise self._invalid(
                "it is a mount point, which cannot be swapped for the new output; choose a "
                f"folder inside it, e.g. '{self.given / 'results'}'"
            )
        if not target.is_dir():
            return
        foreign = foreign_entries(target, owned_files(target, self.manifest))
        in_the_way = [f for f in foreign if f in self.own]
        if in_the_way:
            unmarked = (
                f'; its {self.manifest} lacks this project\'s "written_by" (output written '
                "before this project marked its manifests is not recognised: remove it yourself "
                "if it is that)"
                if self.manifest in in_the_way
                else ""
            )
            raise self._invalid(
                f"it holds {_shown(in_the_way)}, which this project did not write (no "
                f"{self.manifest} of this project lists it) but would write; move or rename it, "
                f"or choose another folder (--force never replaces a file it did not write)"
                f"{unmarked}"
            )
        if foreign and not self.force:
            raise self._invalid(
                f"it holds files that are not this project's output ({_shown(foreign)}); choose "
                "another folder, or add --force to write beside them (they are kept)"
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
        if self.target.is_dir():
            probe_writable(self.target, self.what)

    def _take_lock(self) -> None:
        import fcntl

        path = self.target.parent / f".{self.target.name}.lock"
        if os.path.lexists(path) and not _is_lock_file(path):
            raise self._invalid(
                f"'{path.name}' beside it is not this project's lock file; move or rename it"
            )
        handle = open(path, "a+")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not _same_file(handle, path):  # its holder unlinked it as we opened it: the
                raise BlockingIOError  # lock now lives in a new file another command may hold
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
        """Clean up after killed commands for this target; return what was removed or put back.

        Only `.NAME.tmp-PID-*` and `.NAME.old-PID-*` beside the target count, where NAME is this
        target's name, PID a process that is gone, and the folder holds this project's temp
        marker (naming that PID and NAME; removed whole) or this project's manifest and nothing
        else (its listed files removed). An `.old` folder while NAME is missing is a swap
        stopped between its two renames: it holds the only copy of the previous output, so it is
        put back instead. Anything else, whatever its name, is left alone.
        """
        name = self.target.name
        pattern = re.compile(rf"\.{re.escape(name)}\.(tmp|old)-(\d+)-.+", re.DOTALL)
        touched = []
        for path in sorted(self.target.parent.iterdir()):
            match = pattern.fullmatch(path.name)
            if not match or path.is_symlink() or not path.is_dir():
                continue
            kind, pid = match[1], int(match[2])
            if pid == os.getpid() or _alive(pid):
                continue
            if _is_our_temp(path, name, pid):
                shutil.rmtree(path, ignore_errors=True)
                touched.append(path)
                continue
            owned = owned_files(path, self.manifest)
            if owned is None or foreign_entries(path, owned):
                continue
            if kind == "old" and not os.path.lexists(self.target):
                path.rename(self.target)
            else:
                _remove_owned(path, owned)
                _remove_if_empty(path)
            touched.append(path)
        return touched

    @contextlib.contextmanager
    def prepare(self):
        self.check()
        self._make_parent()
        try:
            self._probe()
            self._take_lock()
            try:
                try:
                    self.clean_leftovers()
                except OSError as error:
                    raise OutputError(
                        f"cannot clean up beside {self.what} '{self.given}': "
                        f"{error.strerror or error}"
                    ) from None
                self.check()  # again, under the lock
                yield self
            finally:
                self._release_lock()
        finally:
            for path in self._created:
                _remove_if_empty(path)

    # -- writing -----------------------------------------------------------------------------
    def write(self, fill: Callable[[Path], None]) -> None:
        try:
            write_folder_atomically(self.target, fill, self.manifest)
        except HalfReplaced as error:
            raise OutputError(
                f"cannot write {self.what} '{self.given}': {error.strerror or error}; stopped "
                f"while replacing this project's files in it ({self.manifest} lists them as "
                "being replaced; nothing else was touched): run again once that is fixed"
            ) from None
        except OSError as error:
            raise OutputError(
                f"cannot write {self.what} '{self.given}': {error.strerror or error} (nothing "
                "was changed there and no temp folder is left)"
            ) from None
        except OutputError as error:  # raised without the label the user gave
            raise OutputError(
                str(error).replace(f"output '{self.target}'", f"{self.what} '{self.given}'")
            ) from None


def _same_file(handle, path: Path) -> bool:
    """The open file `handle` is still the file at `path` (not unlinked or replaced)."""
    try:
        here, held = os.stat(path), os.fstat(handle.fileno())
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def _is_lock_file(path: Path) -> bool:
    """A `.NAME.lock` this project leaves: an empty file or one holding a process id."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode) or path.stat().st_size > 32:
            return False
        return path.read_text(encoding="utf-8", errors="replace").strip().isdigit() or (
            path.stat().st_size == 0
        )
    except OSError:
        return False


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
