"""Ray: the one place it is started, joined and stopped (`ray_session`).

Both Ray paths (radCAD's RAY backend and vectorized batches as Ray tasks) run inside
`ray_session`. radCAD calls `ray.init(num_cpus=processes, ignore_reinit_error=True)` itself, so an
earlier `ray.init` wins: the session decides where the work runs. Without an address it starts a
local instance that keeps its files in the project's ignored `build/ray` folder (nothing in the
home directory), without dashboard, usage reporting or worker log forwarding. With an address it
joins that cluster. Sessions nest: an inner one joins the running instance and leaves it running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Short on purpose: Ray's Unix socket paths under the temp dir must stay below 107 characters.
RAY_TEMP_DIR = PROJECT_ROOT / "build" / "ray"
# A cluster's workers import the model's functions by module name: ship these packages with the
# job (the cluster needs the same pinned dependencies installed).
SHIPPED_PACKAGES = ("model", "experiments")


def init_ray(processes: int | None = None, address: str | None = None) -> None:
    """Connect to Ray (a cluster at `address`, else a local instance with `processes` CPUs)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # radCAD calls ray.init again on every run, which logs at INFO unless this is set first
    os.environ.setdefault("RAY_LOGGER_LEVEL", "warning")
    import ray

    if ray.is_initialized():
        return
    if address:
        check_reachable(address)
        where = {
            "address": address,
            "runtime_env": {
                "py_modules": [str(PROJECT_ROOT / name) for name in SHIPPED_PACKAGES],
                "excludes": ["__pycache__"],
            },
        }
    else:
        RAY_TEMP_DIR.mkdir(parents=True, exist_ok=True)
        where = {
            "address": "local",  # a new instance, even when a cluster started from here is up
            "num_cpus": processes or os.cpu_count() or 1,
            "include_dashboard": False,
            "_temp_dir": str(RAY_TEMP_DIR),
        }
    ray.init(**where, log_to_driver=False, logging_level=logging.WARNING)


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on: `ray.init` would retry it forever."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(f"nothing answers at {address} ({error})") from None


def shutdown_ray() -> None:
    """Stop the local instance (or leave the cluster) if Ray is running in this process."""
    import ray

    if ray.is_initialized():
        ray.shutdown()


@contextlib.contextmanager
def ray_session(processes: int | None = None, address: str | None = None):
    """Ray for the duration of the block: started (or joined) here and stopped on leaving,
    unless it was already running when the block began (then it is left as it was)."""
    import ray

    if ray.is_initialized():
        yield
        return
    init_ray(processes, address)
    try:
        yield
    finally:
        shutdown_ray()


def ray_workers(processes: int | None) -> int:
    """How many tasks to split a run into: `processes`, else the connected instance's CPUs."""
    if processes:
        return processes
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))
