"""A pool scored on Ray actors for `select`.

`select`'s pool scored on a Ray cluster (`nerqa.models.ray_cluster.connect`): a predictor spread
over Ray actors."""

from __future__ import annotations

from nerqa.errors import NerqaError
from nerqa.models.ray_cluster import RETRIES, Cluster, ray_module, worker_setup


class _PredictorActor:
    """A Ray actor holding one predictor (`nerqa.active.predictors`) and its model."""

    def __init__(self, predictor, threads: int | None) -> None:
        worker_setup(threads)
        self.predictor = predictor

    def predict(self, sentences):
        return self.predictor(sentences)


class RayPredictor:
    """A `nerqa.active.predictors.Predictor` spread over `cluster.workers` Ray actors, each
    holding a copy of `predictor` and its model (it travels through the object store, so the
    workers need no copy of the model folder). `map` scores chunks on
    every actor at once and gives the results back in order, with at most two chunks per actor
    in flight: the driver holds no more of the pool than that."""

    def __init__(self, cluster: Cluster, predictor) -> None:
        ray = ray_module()
        self.tags = tuple(predictor.tags)
        actor = ray.remote(_PredictorActor).options(
            max_restarts=RETRIES, max_task_retries=RETRIES, **cluster.task_resources()
        )
        threads = None if cluster.gpus >= 1 else cluster.threads
        shared = ray.put(predictor)
        self.actors = [actor.remote(shared, threads) for _ in range(cluster.workers)]

    def __call__(self, sentences):
        return next(self.map([sentences]))

    def map(self, chunks):
        """Per chunk of sentences (lists of tokens), `(probs, embeddings)`, in the chunks' order.

        Args:
            chunks: lists of sentences, each a list of tokens.
        """
        import collections

        ray = ray_module()
        in_flight: collections.deque = collections.deque()
        limit = 2 * len(self.actors)
        for number, chunk in enumerate(chunks):
            in_flight.append(self.actors[number % len(self.actors)].predict.remote(chunk))
            if len(in_flight) >= limit:
                yield self._get(ray, in_flight.popleft())
        while in_flight:
            yield self._get(ray, in_flight.popleft())

    def _get(self, ray, ref):
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = error.cause if getattr(error, "cause", None) is not None else error
            raise (cause if isinstance(cause, NerqaError) else NerqaError(f"scoring failed on Ray: {cause}")) from None
        except ray.exceptions.RayError as error:
            raise NerqaError(f"scoring failed on Ray: {str(error).splitlines()[0]}") from None
