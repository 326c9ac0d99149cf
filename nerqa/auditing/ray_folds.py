"""The audit's folds as Ray tasks.

The audit's folds as Ray tasks (`RayFolds`, a `nerqa.auditing.crossval.FoldExecutor`), on a
cluster `nerqa.models.ray_cluster.connect` joined or started."""

from __future__ import annotations

import time
from collections.abc import Sequence

from nerqa.auditing.crossval import FoldExecutor, compute_fold
from nerqa.errors import NerqaError
from nerqa.models.ray_cluster import RETRIES, Cluster, ray_module, worker_setup
from nerqa.progress import ProgressCallback, quiet


def _fold_task(runner, corpus, tags, job, threads):
    worker_setup(threads)
    return compute_fold(runner, corpus, tags, job)


def _prepare_task(runner, corpus, threads):
    """The frozen-encoder pass of a fast or top runner, once, in a worker: the runner comes
    back with it (into the object store), and every fold task reads that one copy."""
    worker_setup(threads)
    runner.shared.get(corpus, quiet)
    return runner, runner.shared.seconds


class RayFolds(FoldExecutor):
    """Each fold a Ray task on `cluster`, retried when
    its worker dies (`RETRIES`), yielded as it finishes. The corpus goes to the object
    store once; a fast or top runner's frozen pass runs once in a worker and is shared."""

    def __init__(self, cluster: Cluster, *, retries: int = RETRIES) -> None:
        self.cluster = cluster
        self.retries = retries

    def run(self, runner, corpus, tags, jobs: Sequence, progress: ProgressCallback = quiet):
        ray = ray_module()
        resources = self.cluster.task_resources()
        threads = None if self.cluster.gpus >= 1 else self.cluster.threads
        corpus_ref = ray.put(corpus)
        if hasattr(runner, "shared"):
            prepare = ray.remote(_prepare_task).options(max_retries=self.retries, num_returns=2, **resources)
            runner_ref, seconds_ref = prepare.remote(runner, corpus_ref, threads)
            started = time.perf_counter()
            runner.shared.seconds = self._get(ray, seconds_ref, "the frozen-encoder pass")
            progress("features", 1, 1, {"seconds": time.perf_counter() - started})
        else:
            runner_ref = ray.put(runner)
        task = ray.remote(_fold_task).options(max_retries=self.retries, **resources)
        pending = {task.remote(runner_ref, corpus_ref, tags, job, threads): job.fold for job in jobs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                fold = pending.pop(done[0])
                yield self._get(ray, done[0], f"fold {fold}")
        finally:
            for ref in pending:  # a failed or interrupted run leaves no fold training on the cluster
                ray.cancel(ref, force=True)

    def _get(self, ray, ref, what: str):
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = error.cause if getattr(error, "cause", None) is not None else error
            if isinstance(cause, NerqaError):
                raise cause from None
            raise NerqaError(f"{what} failed on Ray: {type(cause).__name__}: {cause}") from None
        except ray.exceptions.RayError as error:
            raise NerqaError(
                f"{what} failed on Ray after {self.retries} retries: {str(error).splitlines()[0]}"
            ) from None
