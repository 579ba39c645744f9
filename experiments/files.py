"""Atomic writes: one file (`write_text_atomically`) or a whole folder (`write_folder_atomically`).

Readers never see half a file or half a results folder: everything is written beside the target
and renamed over it. Used by the results folder, the report, publish and the golden KPI files.
Imports nothing of the project.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
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


def write_folder_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """Write into a temp folder beside `out`, then swap it in; on any failure leave no trace.

    An existing `out` is renamed away, the new folder renamed in, then the old one deleted: each
    rename is atomic, so `out` is always a complete result set (or briefly absent).
    """
    out = Path(out)
    created_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o777 & ~umask())  # mkdtemp makes it private; results are ordinary files
    old = out.parent / f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
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
