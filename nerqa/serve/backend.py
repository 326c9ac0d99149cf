"""The model behind `nerqa serve`: predictions, retraining, versions.

Predictions for Label Studio tasks with an active-learning score, and retraining on the
annotations Label Studio sends, without any web framework (the SDK glue is `nerqa.serve.app`).

- **Predictions.** A task's text is split into sentences and words as nerqa reads raw text; the
  served model tags every word, and the spans go back as Label Studio `labels` regions on
  character offsets. Each prediction's `score` is `1 / (1 + u)`, where `u` is the task's
  uncertainty under `select`'s strategy (entropy by default: summed over the task's words). A
  lower score means more worth annotating, so Label Studio's own uncertainty sampling (lowest
  score first) and an ascending sort on "Prediction score" give `nerqa select`'s order.
- **Retraining** runs in a background thread after every `every` annotation events, or on
  request (Label Studio's Start Training). It starts from the base model each time, on
  `corpus` (what the base model was trained on, if given) plus every task's current
  annotation: `fast` trains the BiLSTM head on the base model's frozen encoder (seconds), `full`
  fine-tunes the whole base model (`nerqa train`). The new model serves only once it is
  saved; a retraining that fails is recorded and the previous model keeps serving.
- **Label Studio's own active learning** reads the project's model version: the backend sets
  it to the version it serves (`nerqa.serve.projects`).
- **Versions** are `NAME-N`: NAME is the base model's folder name, N counts the models trained
  (0 is the base). Every version, its kind, the annotation event it learned through and its
  time are in the store (`nerqa.serve.store`); a restart serves the newest good one again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nerqa.active.strategies import DEFAULT_STRATEGY, Strategy, check_strategy, sentence_score
from nerqa.data.corpus import Corpus, label_ids
from nerqa.data.formats.common import document_from_text
from nerqa.data.formats.jsonl import check_word_edges
from nerqa.data.probs import tags_from_probs, type_classes
from nerqa.errors import ConfigError, ModelError, NerqaError
from nerqa.files import atomic_folder, sweep_staging
from nerqa.interop.task_formats import FROM_NAME, TO_NAME
from nerqa.serve.labeling import (
    LabelingConfig,
    annotated_spans,
    check_labels,
    parse_labeling_config,
    regions,
    task_document,
)
from nerqa.serve.projects import ProjectVersions
from nerqa.serve.store import Annotation, AnnotationStore, ModelRecord

RETRAIN_KINDS = ("fast", "full")
STORE_FILE = "annotations.sqlite"
VERSIONS_FOLDER = "versions"
# Label Studio sends these for each annotation a person submits, changes or deletes.
CHANGE_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
DELETE_EVENTS = ("ANNOTATIONS_DELETED", "ANNOTATION_DELETED")
TRAIN_EVENTS = ("START_TRAINING",)


@dataclass
class ServeSettings:
    """`every`: retrain after this many new annotation events (0: only on request); `retrain`:
    `fast` or `full`; `strategy`: the uncertainty behind the score (`select`'s); `epochs`: the
    full retraining's epochs; `seed`: every retraining's seed, so one store gives one model."""

    every: int = 20
    retrain: str = "fast"
    strategy: Strategy = DEFAULT_STRATEGY
    epochs: float = 3
    seed: int = 42

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ConfigError(f"--retrain-every must be 0 or more, not {self.every}")
        if self.retrain not in RETRAIN_KINDS:
            raise ConfigError(f"--retrain must be one of {', '.join(RETRAIN_KINDS)}, not {self.retrain!r}")
        check_strategy(self.strategy)
        if self.strategy == "random":
            raise ConfigError("the random strategy gives no score to sort by; choose another --strategy")


@dataclass
class Served:
    """One model answering predictions: `probs(sentences)` gives per sentence an `(n_words,
    n_tags)` array in the base model's tag order (every version keeps it)."""

    version: str
    kind: str
    probs: Callable[[Sequence[Sequence[str]]], list[np.ndarray]]


@dataclass
class TrainingState:
    running: bool = False
    again: bool = False
    version: str | None = None  # the version being trained
    last_error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


class Stopped(Exception):
    """A retraining abandoned because the backend is closing."""


class Backend:
    """The served model, the annotation store and the retraining thread.

    Args:
        model: a trained token classifier folder (`nerqa train`'s output or any HF one).
        folder: the backend's own folder: `annotations.sqlite` and `versions/NAME-N/`.
        corpus: what the base model was trained on, added to the annotations in each
            retraining (without it, retraining learns from the annotations alone).
        log: receives one line per event worth telling (retraining started, done, failed).
    """

    def __init__(
        self,
        model: str | Path,
        folder: str | Path,
        settings: ServeSettings = ServeSettings(),
        *,
        corpus: Corpus | None = None,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        from nerqa.active.predictors import ClassifierPredictor
        from nerqa.models.classifier import load_classifier

        self.model_path = Path(model)
        self.folder = Path(folder)
        self.settings = settings
        self.corpus = corpus
        self.log = log
        self.base = load_classifier(self.model_path)
        self.tags = self.base.tags
        self.types = tuple(type_classes(self.tags)[1:])
        # The config assumed when Label Studio sends none: the one `nerqa tasks` writes.
        self._default_config = LabelingConfig(FROM_NAME, TO_NAME, TO_NAME, self.types)
        self._column = {t: i for i, t in enumerate(self.tags)}  # a tag's column in pred_probs
        if corpus is not None:
            label_ids(corpus, self.tags, what="--corpus")  # a tag the model lacks: fail now, not at retraining
        self.store = AnnotationStore(self.folder / STORE_FILE)
        # A retraining interrupted by a crash or a kill -9 left its staging folder: it was never served.
        for left in sweep_staging(self.folder / VERSIONS_FOLDER, ""):
            self.log(f"Removed {left.name}, a retraining interrupted before it was saved")
        predictor = ClassifierPredictor(self.base)
        self._base = Served(self._version(0), "base", lambda sentences: predictor(sentences)[0])
        models = self.store.models()
        if not models:
            self.store.add_model(self._base.version, "base", str(self.model_path.resolve()), 0, 0)
        elif models[0].folder != str(self.model_path.resolve()):
            # Its heads read another encoder's features: serving them on this one would be wrong.
            raise ConfigError(
                f"{self.folder} belongs to the model {models[0].folder}, not {self.model_path.resolve()}; "
                "serve that model, or give this one another --out"
            )
        self._predict_lock = threading.Lock()  # one forward pass at a time: they would share the cores anyway
        self._state_lock = threading.Lock()
        self._configs: dict[str, LabelingConfig] = {}
        self._features: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.training = TrainingState()
        self._closing = threading.Event()
        self.served = self._load(self.store.latest_model())
        self.projects = ProjectVersions(log)

    # -- versions --------------------------------------------------------------------------
    def _version(self, number: int) -> str:
        return f"{self.model_path.resolve().name}-{number}"

    @property
    def version(self) -> str:
        return self.served.version

    def _load(self, record: ModelRecord | None) -> Served:
        """The model a store record names (the base model for none, or for `base`)."""
        if record is None or record.kind == "base":
            return self._base
        folder = Path(record.folder or "")
        if not folder.is_dir():
            raise ModelError(f"{folder}: the folder of {record.version}, the newest model in the store, is missing")
        if record.kind == "fast":
            import torch

            from nerqa.models.head import TrainedHead

            head = TrainedHead.from_state(torch.load(folder / "head.pt", weights_only=True))
            return Served(record.version, "fast", lambda sentences: self._head_probs(head, sentences))
        from nerqa.active.predictors import ClassifierPredictor
        from nerqa.models.classifier import load_classifier

        predictor = ClassifierPredictor(load_classifier(folder))
        return Served(record.version, "full", lambda sentences: predictor(sentences)[0])

    # -- labeling config -------------------------------------------------------------------
    def check_config(self, label_config: str | None) -> LabelingConfig | None:
        """The project's labeling config, parsed; `ConfigError` when its labels are not the
        model's types. None when Label Studio sent none.

        Args:
            label_config: the project's labeling config (XML), or None.
        """
        if not label_config:
            return None
        if label_config not in self._configs:
            config = parse_labeling_config(label_config)
            check_labels(config, self.types)
            self._configs[label_config] = config
        return self._configs[label_config]

    # -- predictions -----------------------------------------------------------------------
    def _features_of(
        self, sentences: Sequence[Sequence[str]], *, cached: bool = False
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The frozen base encoder's word features and word shapes per sentence. `cached`
        (training sentences): kept, since every retraining reads them again. A prediction
        request computes its own, so a task's prediction does not depend on whether it was
        trained on, and the cache does not grow with every task predicted."""
        from nerqa.models.frozen import frozen_pass

        wanted = list(dict.fromkeys(tuple(s) for s in sentences))
        missing = [s for s in wanted if s not in self._features] if cached else wanted
        computed: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        if missing:
            encoder = (self.base.model.base_model, self.base.tokenizer)
            frozen = frozen_pass(
                missing, None, max_length=self.base.max_length, stride=self.base.stride, top_layers=None, loaded=encoder
            )
            computed = dict(zip(missing, zip(frozen.features, frozen.shapes)))
            if cached:
                self._features.update(computed)
        source = self._features if cached else computed
        pairs = [source[tuple(s)] for s in sentences]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def _head_probs(self, head, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        features, shapes = self._features_of(sentences)
        return head.predict(features, shapes)

    def predict(self, tasks: Sequence[dict], label_config: str | None = None) -> list[dict]:
        """One Label Studio prediction per task: `{"result": [regions], "score", "model_version"}`.

        `tasks` are Label Studio tasks (`{"id", "data": {field: text}}`). Regions are `labels`
        results on character offsets of the text; `score` is `1 / (1 + uncertainty)` (see the
        module docstring). A task without text gets an empty prediction with score 1.

        Args:
            tasks: Label Studio tasks.
            label_config: the project's labeling config (XML), checked against the model's types.
        """
        config = self.check_config(label_config) or self._default_config
        served = self.served  # one model for the whole request, even if a retraining lands meanwhile
        documents = [task_document(task, config) for task in tasks]
        sentences = [s for d in documents for s in d.sentences]
        with self._predict_lock:
            probs = served.probs([s.tokens for s in sentences]) if sentences else []
        tags = tags_from_probs(probs, self.tags)
        out, at = [], 0
        for document in documents:
            n = len(document.sentences)
            results, uncertainty = [], 0.0
            for sentence, p, t in zip(document.sentences, probs[at : at + n], tags[at : at + n]):
                uncertainty += sentence_score(p, self.settings.strategy)
                results.extend(regions(document.text or "", sentence, p, t, config, self._column))
            at += n
            out.append({"result": results, "score": 1.0 / (1.0 + uncertainty), "model_version": served.version})
        return out

    # -- annotations -----------------------------------------------------------------------
    def receive(self, event: str, payload: dict) -> dict:
        """Handle a Label Studio webhook: store an annotation (committed before returning),
        forget a deleted one, or start training. Returns what was done, for the reply.

        Args:
            event: the webhook's action (`ANNOTATION_CREATED`, ...).
            payload: the webhook's JSON body.
        """
        if event in TRAIN_EVENTS:
            return {"training": self.retrain()}
        if event not in CHANGE_EVENTS + DELETE_EVENTS:
            return {"ignored": event}  # Label Studio sends every action to a backend's webhook
        raw = payload.get("project")
        project = str(raw.get("id", "") if isinstance(raw, dict) else raw or "")
        if event in DELETE_EVENTS:
            gone = [a.get("id") for a in payload.get("annotations") or [payload.get("annotation") or {}]]
            done = [self.store.delete(project, int(a)) for a in gone if a is not None]
            return self._after_change({"deleted": sum(d is not None for d in done)})
        annotation, task = payload.get("annotation") or {}, payload.get("task") or {}
        label_config = raw.get("label_config") if isinstance(raw, dict) else None
        config = self.check_config(label_config) or self._default_config
        if annotation.get("was_cancelled"):
            return {"ignored": "skipped task"}
        if not isinstance(task.get("id"), int):
            raise NerqaError(f"{event}: the webhook names no task id")
        text, spans = annotated_spans(task, annotation.get("result") or [], config)
        self.store.put(project, task["id"], annotation.get("id"), text, spans)
        return self._after_change({"stored": 1})

    def learn(self, annotations: Sequence[tuple[str, int, int | None, str, Sequence[tuple[int, int, str]]]]) -> int:
        """Store many annotations at once (`(project, task_id, annotation_id, text, spans)`), as
        Label Studio's `/train` call sends every annotated task; a task's annotation already
        stored as it is counts once. Returns how many were new or changed.

        Args:
            annotations: `(project, task_id, annotation_id, text, spans)` each; spans `(start, end, label)` in
                characters.
        """
        current = {(a.project, a.task_id): (a.annotation_id, a.text, a.spans) for a in self.store.annotations()}
        changed = 0
        for project, task_id, annotation_id, text, spans in annotations:
            if current.get((project, task_id)) != (annotation_id, text, tuple(spans)):
                self.store.put(project, task_id, annotation_id, text, spans)
                changed += 1
        return changed

    def _after_change(self, done: dict) -> dict:
        latest = self.store.latest_model()
        pending = self.store.changes_since(latest.through_seq if latest else 0)
        if self.settings.every and pending >= self.settings.every:
            done["training"] = self.retrain()
        return done

    # -- retraining ------------------------------------------------------------------------
    def retrain(self, *, wait: bool = False) -> str:
        """Start a retraining in the background (or note that one more is wanted after the
        running one). Returns `started` or `queued`. `wait` blocks until no retraining runs.

        Args:
            wait: block until no retraining runs.
        """
        with self._state_lock:
            if self._closing.is_set():
                state = "stopping"
            elif self.training.running:
                self.training.again = True
                state = "queued"
            else:
                self.training.running = True
                self.training.thread = threading.Thread(target=self._train_loop, name="nerqa-retrain", daemon=True)
                self.training.thread.start()
                state = "started"
        if wait:
            self.wait()
        return state

    def wait(self) -> None:
        """Block until no retraining runs."""
        while True:
            thread = self.training.thread
            if thread is None or not thread.is_alive():
                return
            thread.join()

    def close(self) -> None:
        """Stop retraining, for a clean shutdown: a full retraining in progress is abandoned at its
        next step (its staging folder removed, nothing recorded), a fast one (seconds) finishes
        and is saved. Returns once no retraining runs; later `retrain` calls start nothing."""
        self._closing.set()
        self.wait()

    def _train_loop(self) -> None:
        while True:
            try:
                self.train_now()
            except Stopped:
                pass
            except Exception as error:  # noqa: BLE001  # a failed retraining must leave the server up
                self.training.last_error = f"{type(error).__name__}: {error}"
            with self._state_lock:
                if not self.training.again or self._closing.is_set():
                    self.training.running = False
                    return
                self.training.again = False

    def training_corpus(self, annotations: Sequence[Annotation]) -> tuple[Corpus, int]:
        """`corpus` plus the annotations as documents; returns it and how many annotations
        were left out because a span cuts a word or spans overlap (as `nerqa convert` refuses them).

        Args:
            annotations: the stored annotations to train on.
        """
        documents = list(self.corpus.documents) if self.corpus is not None else []
        skipped = 0
        for a in annotations:
            try:
                check_word_edges(a.text, list(a.spans), f"task {a.task_id}", None)
                documents.append(
                    document_from_text(f"task-{a.task_id}", a.text, [(0, len(a.text))], a.spans, path=None, line=None)
                )
            except NerqaError:
                skipped += 1
        return Corpus(tuple(documents), name="annotations"), skipped

    def train_now(self) -> ModelRecord:
        """Retrain on the store as it is now, in this thread; swap the new model in when it is
        saved. A failure is recorded in the store and raised; the served model stays."""
        through = self.store.last_seq()
        annotations = self.store.annotations(through=through)
        number = self.store.next_number()
        version, kind = self._version(number), self.settings.retrain
        started = time.perf_counter()
        self.training.version = version
        self.log(f"Retraining {version} ({kind}) on {len(annotations)} annotated tasks")
        try:
            corpus, skipped = self.training_corpus(annotations)
            if skipped:
                self.log(f"{skipped} annotations left out: a span cuts a word, or spans overlap")
            if not corpus.sentences:
                raise NerqaError("nothing to train on: no annotations stored and no --corpus")
            folder = self.folder / VERSIONS_FOLDER / version
            with atomic_folder(folder) as staging:
                (self._train_fast if kind == "fast" else self._train_full)(corpus, Path(staging))
        except Stopped:
            self.log(f"Retraining {version} abandoned: the server is stopping; {self.version} stays the newest")
            raise
        except Exception as error:
            seconds = time.perf_counter() - started
            self.store.add_model(
                version, kind, None, through, len(annotations), seconds=seconds, status="failed", error=str(error)
            )
            self.log(f"Retraining {version} failed after {seconds:.1f} s: {error}; {self.version} keeps serving")
            raise
        seconds = time.perf_counter() - started
        record = self.store.add_model(version, kind, str(folder), through, len(annotations), seconds=seconds)
        self.served = self._load(record)  # one reference swap: a request already running keeps its model
        self.log(f"Serving {version}: trained on {len(annotations)} annotated tasks in {seconds:.1f} s")
        return record

    def _train_fast(self, corpus: Corpus, folder: Path) -> None:
        import torch

        from nerqa.models.head import train_head

        sentences = [s.tokens for s in corpus.sentences]
        features, shapes = self._features_of(sentences, cached=True)
        head = train_head(
            features,
            label_ids(corpus, self.tags, what="annotation"),
            range(len(sentences)),
            len(self.tags),
            shapes=shapes,
            seed=self.settings.seed,
        )
        torch.save(head.state(), folder / "head.pt")

    def _train_full(self, corpus: Corpus, folder: Path) -> None:
        from nerqa.config import TrainConfig
        from nerqa.models.training import train

        config = TrainConfig(model=str(self.model_path), epochs=self.settings.epochs, seed=self.settings.seed)

        def progress(task: str, completed: int, total: int, info: dict) -> None:
            if self._closing.is_set():
                raise Stopped()
            if task == "epoch":  # minutes of work: a line per epoch in the terminal and serve.log
                self.log(
                    f"Retraining {self.training.version}: epoch {completed}/{total}, loss {info.get('loss', 0):.4f}"
                )

        result = train(corpus, config, tags=self.tags, progress=progress)
        result.classifier.save(folder)

    # -- Label Studio projects -------------------------------------------------------------
    def connected(self, project: str | None, hostname: str | None, token: str | None) -> None:
        """Label Studio's `/setup` for `project` (`"ID.TIMESTAMP"`): remember how to reach it.

        Args:
            project: `"ID.TIMESTAMP"`, as Label Studio sends it.
            hostname: Label Studio's address.
            token: its API token.
        """
        self.projects.connected(project, hostname, token)

    def predicted(self, project: str | None) -> None:
        """Predictions went to `project`: once Label Studio has saved them, point the project's
        model version at them (Label Studio accepts only a version it holds predictions of).

        Args:
            project: `"ID.TIMESTAMP"`, as Label Studio sends it.
        """
        self.projects.predicted(project, self.version)

    def status(self) -> dict:
        """What `/health`-style callers want to know: the served version, whether a retraining
        runs, the stored annotations and every model."""
        return {
            "model_version": self.version,
            "is_training": self.training.running,
            "annotations": len(self.store.annotations()),
            "last_error": self.training.last_error,
            "versions": [m.version for m in self.store.models() if m.status == "ok"],
            "models": [
                {"version": m.version, "kind": m.kind, "annotations": m.annotations, "seconds": m.seconds,
                 "status": m.status, "error": m.error}
                for m in self.store.models()
            ],
        }  # fmt: skip
