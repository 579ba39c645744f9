"""The command line in-process, for the tests: `main` (status code, argparse's exits included)
and `run_into` (an experiment run into a folder, which must succeed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from experiments import cli


def main(*args: str) -> int:
    """cli.main in-process; argparse's own errors exit via SystemExit, returned as the status."""
    try:
        return cli.main(list(args))
    except SystemExit as stop:
        return stop.code


def run_into(out: Path, *args: str, options: Sequence[str] = ()) -> Path:
    """`python -m experiments run ARGS OPTIONS --out OUT`, in-process; asserts it succeeded and
    returns `out`."""
    assert main("run", *args, *options, "--out", str(out)) == 0
    return out
