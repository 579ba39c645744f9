"""`python -m experiments`: see experiments/cli.py."""

from experiments.cli import main

if __name__ == "__main__":  # radCAD's spawned workers import this module: run only as a script
    raise SystemExit(main())
