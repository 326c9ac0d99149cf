"""The `--workers` and `--ray-address` options of `audit` and `select`.

Running on Ray (`audit` and `select`): the `--workers` and `--ray-address` options and the
cluster they name, announced in one line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nerqa_cli.console import err_console

if TYPE_CHECKING:
    from nerqa.models.ray_cluster import Cluster

WorkersOpt = Annotated[
    Optional[int],
    typer.Option(
        help="Run on Ray, this many tasks at once: on a local Ray over this machine's cores, or on the cluster at "
        "--ray-address (default there: one per GPU, else per CPU).",
    ),
]
RayAddressOpt = Annotated[
    Optional[str],
    typer.Option(
        "--ray-address",
        metavar="ADDR",
        help="Run on this Ray cluster (e.g. ray://head:10001, or auto on a cluster node); $RAY_ADDRESS is read "
        "with --workers.",
    ),
]


@contextlib.contextmanager
def ray_cluster(workers: Optional[int], address: Optional[str]) -> Iterator[Optional[Cluster]]:
    """The Ray cluster `--workers`/`--ray-address` name, announced in one line; None without either."""
    if workers is None and address is None:
        yield None
        return
    from nerqa.models.ray_cluster import connect

    with connect(workers, address) as cluster:
        each = "one GPU" if cluster.gpus >= 1 else f"{cluster.threads} CPU{'s' if cluster.threads > 1 else ''}"
        err_console.print(
            f"Ray: {cluster.address}, {cluster.cpus:g} CPUs, {cluster.gpus:g} GPUs; {cluster.workers} at once, "
            f"{each} each.",
            highlight=False,
        )
        yield cluster
