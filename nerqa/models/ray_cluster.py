"""The Ray cluster that audits and selections spread over.

The Ray cluster work is spread over: the connection (`connect`, `Cluster`) and a worker's
setup, shared by the audit's folds as Ray tasks (`nerqa.auditing.ray_folds.RayFolds`) and
`select`'s pool scored on Ray actors (`nerqa.active.ray_pool.RayPredictor`).

`connect(workers, address)` joins the cluster at `address` (or `$RAY_ADDRESS`), or starts a
local Ray over this machine's cores, and shuts down what it started. A task asks for one GPU
where the cluster has GPUs, else for its share of the cluster's CPUs (and runs as many torch
threads). Results come back through Ray's object store: the workers need nerqa installed and
the model folder a fold fine-tunes, not a shared file system.

Ray is an optional dependency (`pip install 'nerqa[scale]'`), imported only on use.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nerqa.errors import ConfigError, NerqaError

# A task whose worker process dies (killed, out of memory, node lost) runs again this many times.
RETRIES = 3


def ray_module():
    """The `ray` package, or a `ConfigError` saying how to install it."""
    try:
        import ray
    except ModuleNotFoundError:
        raise ConfigError("running on Ray needs the ray package: pip install 'nerqa[scale]'") from None
    return ray


@dataclass(frozen=True)
class Cluster:
    """The Ray cluster this process is connected to: its CPUs and GPUs, how many tasks run at
    once (`workers`), whether nerqa started it (`local`), and its address."""

    cpus: float
    gpus: float
    workers: int
    local: bool
    address: str

    def task_resources(self) -> dict[str, float]:
        """What one fold (or one scoring actor) asks Ray for: a GPU where there are GPUs, else
        its share of the CPUs, so that `workers` of them run at once."""
        if self.gpus >= 1:
            return {"num_gpus": 1, "num_cpus": 1}
        return {"num_cpus": self.threads}

    @property
    def threads(self) -> int:
        """torch threads per task on CPUs: the CPUs each task is given."""
        return max(1, int(self.cpus // max(1, self.workers)))


def ray_log_file() -> Path:
    """Where a local Ray's processes write their stderr: `nerqa-ray.log` in the temp folder."""
    return Path(tempfile.gettempdir()) / "nerqa-ray.log"


@contextlib.contextmanager
def stderr_to_file(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at `path` (appended) while the body starts processes, so that
    they inherit it; this process's own stderr is restored afterwards."""
    try:
        sink = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        yield  # no log file: Ray's processes share the terminal, as they would anyway
        return
    saved = os.dup(2)
    os.dup2(sink, 2)
    os.close(sink)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def connect(workers: int | None = None, address: str | None = None) -> Iterator[Cluster]:
    """Join the Ray cluster at `address` (default `$RAY_ADDRESS`), or start a local one over
    this machine's cores (at least `workers` CPUs); the local one is shut down on leaving.

    `workers`: how many folds run at once (default: the cluster's GPUs, else its CPUs).
    Raises `ConfigError` for a worker count below 1 or an address Ray cannot reach.

    Args:
        workers: how many tasks run at once (default: the cluster's GPUs, else its CPUs).
        address: a Ray cluster's address (default `$RAY_ADDRESS`; none: a local cluster).
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    # Ray installs a failure signal handler in this process, which every process forked from it
    # later inherits: a child stopped with SIGTERM (a pool's worker) then dumps a stack trace on
    # the terminal ("*** SIGTERM received ... PC: @"). Read when ray is first imported.
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    ray = ray_module()
    address = address or os.environ.get("RAY_ADDRESS") or None
    # The folds a failed run cancels end in errors nobody reads: Ray would log each one.
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    options = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
    already = ray.is_initialized()
    try:
        if already:
            pass  # a caller (a notebook, a test) set Ray up: use it as it is
        elif address:
            ray.init(address=address, **options)
        else:
            # "local": a new Ray of its own, even where another one runs on this machine. Its
            # processes are started with stderr on a log file, not the terminal: a worker killed
            # at shutdown prints a stack trace nobody needs ("*** SIGTERM received ...").
            with stderr_to_file(ray_log_file()):
                ray.init(address="local", num_cpus=max(workers or 1, os.cpu_count() or 1), **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        hint = (
            ""
            if os.environ.get("RAY_AUTH_MODE")
            else " (a cluster started by `ray start` also needs RAY_AUTH_MODE=token)"
        )
        raise NerqaError(f"cannot join the Ray cluster at {address}: {error}{hint}") from None
    try:
        resources = ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 1.0)), float(resources.get("GPU", 0.0))
        default = int(gpus) if gpus >= 1 else int(cpus)
        yield Cluster(
            cpus=cpus,
            gpus=gpus,
            workers=max(1, workers or default),
            local=not (already or address),
            address=address or ("(already connected)" if already else "local"),
        )
    finally:
        if not (already or address):
            with stderr_to_file(ray_log_file()):  # what its processes say as they are stopped
                ray.shutdown()


def worker_setup(threads: int | None) -> None:
    """A Ray worker's setup before it trains or predicts: its torch threads, and
    transformers' own output off (nothing is printed in a worker)."""
    from nerqa.models.runtime import quiet_transformers, set_threads

    if threads is not None:
        set_threads(threads)
    quiet_transformers()
