"""Fold runners: one fold's training part in, its held-out part's pred_probs out.

Fold runners: what turns one fold's training part into probabilities for its held-out part.

- `FullRunner` (`full`): fine-tune the encoder, reading word shapes too, on the training part
  (`nerqa.models.training.train`); it can keep the training dynamics of every training sentence.
- `FastRunner` (`fast`): run the frozen encoder once over the corpus (`SharedPass`) and train a
  small BiLSTM head per fold (`nerqa.models.head`).
- `TopRunner` (`top`): fine-tune only the encoder's top layers per fold, over the states the
  same frozen pass keeps (`nerqa.models.top`).

`COMPONENTS` says which runners each mode (`nerqa.config.MODES`) averages. `both` is the
default because the two err differently: on bench/noise.py (subsets, fold settings of the
time), top-k recall of injected errors went from 0.50 (full) and 0.55 (fast) to 0.58 on NCBI,
and from 0.70 (each) to 0.76 on BC5CDR.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus, label_ids
from nerqa.progress import ProgressCallback


class FoldRunner(Protocol):
    """Turns one fold's training sentences into probabilities for its held-out sentences.

    Attributes:
        mode: the runner's name in the fold cache and in progress (`full`, `fast`, `top`, `once`).
        dynamics: whether `take_dynamics` gives the last fold's training dynamics.
        feature_seconds: wall time of the frozen encoder pass the runner read (0 without one).
    """

    mode: str
    dynamics: bool

    @property
    def feature_seconds(self) -> float: ...

    def key(self) -> dict:
        """What besides the corpus and the training settings changes this runner's output."""

    def run(
        self,
        corpus: Corpus,
        tags: tuple[str, ...],
        train_idx: np.ndarray,
        test_idx: np.ndarray,
        progress: ProgressCallback,
    ) -> list[np.ndarray]:
        """Train on the fold's training sentences and predict its held-out ones.

        Args:
            corpus: the corpus (the fold's sentences are indices into it).
            tags: the tag set, the columns of the probabilities.
            train_idx: the training sentences' indices.
            test_idx: the held-out sentences' indices.
            progress: Progress callback `(task, completed, total, info)`.

        Returns:
            Per held-out sentence (in `test_idx` order), `(n_words, n_tags)` probabilities.
        """

    def take_dynamics(self) -> list[np.ndarray] | None:
        """The last fold's training dynamics per training sentence, `(records, n_words, n_tags)`
        each, and forget them; None where the runner keeps none."""


# Whether the full runner's models read word shapes (`nerqa.models.classifier.ShapedTokenClassifier`), and
# the version of that model in the fold cache key: on for what an uncased encoder loses in
# general-domain text (names are capitalised), neutral on the biomedical benchmarks (docs/benchmarks.md).
FULL_SHAPES = True
SHAPES_VERSION = "shaped-v1"


class FullRunner(FoldRunner):
    """Fine-tune the encoder on the fold's training part, predict its held-out part."""

    mode = "full"
    feature_seconds = 0.0  # no frozen pass

    def __init__(self, config: TrainConfig, *, dynamics: bool = False, shapes: bool | None = None) -> None:
        self.config = config
        self.dynamics = dynamics
        self.shapes = FULL_SHAPES if shapes is None else shapes
        self._dynamics: list[np.ndarray] | None = None

    def key(self) -> dict:
        return {"shapes": SHAPES_VERSION} if self.shapes else {}

    def run(self, corpus, tags, train_idx, test_idx, progress):
        from nerqa.models.predict import predict_probs
        from nerqa.models.training import TrainingExtras, train

        sentences = corpus.sentences
        training = Corpus.from_sentences([sentences[i] for i in train_idx])
        extras = TrainingExtras(dynamics=self.dynamics, shapes=self.shapes)
        trained = train(training, self.config, tags=tags, progress=progress, extras=extras)
        self._dynamics = trained.dynamics
        return predict_probs(trained.classifier, [sentences[i].tokens for i in test_idx], progress=progress)

    def take_dynamics(self) -> list[np.ndarray] | None:
        """The last fold's training dynamics, per training sentence (`train_idx` order):
        `(epochs, n_words, n_tags)` (`nerqa.models.training.TrainResult.dynamics`); None without."""
        dynamics, self._dynamics = self._dynamics, None
        return dynamics


class SharedPass:
    """The corpus's frozen-encoder pass (`nerqa.models.frozen.frozen_pass`), run on first use and shared
    by the fast and top runners of one cross-validation, so the encoder reads the corpus once.
    `states`: keep the states entering the top layers too (the top runner needs them)."""

    def __init__(self, config: TrainConfig, *, states: bool) -> None:
        from nerqa.models.frozen import TOP_LAYERS

        self.config = config
        self.top_layers = TOP_LAYERS if states else None
        self.frozen = None
        self.seconds = 0.0

    def get(self, corpus: Corpus, progress: ProgressCallback):
        from nerqa.models.frozen import frozen_pass

        if self.frozen is None:
            self.frozen = frozen_pass(
                [s.tokens for s in corpus.sentences],
                self.config.model,
                max_length=self.config.max_length,
                stride=self.config.stride,
                top_layers=self.top_layers,
                progress=progress,
            )
            self.seconds = self.frozen.seconds
        return self.frozen


class _PassRunner(FoldRunner):
    """A runner over the corpus's frozen pass: its own, or one `shared` with another runner."""

    mode = ""
    states = False  # whether it needs the states entering the top layers
    dynamics = False  # a frozen pass's runner keeps no training dynamics

    def __init__(self, config: TrainConfig, shared: SharedPass | None = None) -> None:
        self.config = config
        self.shared = shared or SharedPass(config, states=self.states)

    @property
    def feature_seconds(self) -> float:
        return self.shared.seconds

    def take_dynamics(self) -> None:
        return None


class FastRunner(_PassRunner):
    """A BiLSTM head per fold over frozen-encoder features (and word shapes) computed once for the corpus."""

    mode = "fast"

    def key(self) -> dict:
        from nerqa.models.head import HEAD_VERSION

        return {"head": HEAD_VERSION}

    def run(self, corpus, tags, train_idx, test_idx, progress):
        from nerqa.models.head import fit_head

        frozen = self.shared.get(corpus, progress)
        return fit_head(
            frozen.features,
            label_ids(corpus, tags),
            train_idx,
            test_idx,
            len(tags),
            shapes=frozen.shapes,
            seed=self.config.seed,
        )


class TopRunner(_PassRunner):
    """The encoder's top layers fine-tuned per fold over lower layers run once (`nerqa.models.top`)."""

    mode = "top"
    states = True

    def key(self) -> dict:
        from nerqa.models import top

        return {
            "top": top.TOP_VERSION,
            "top_layers": self.shared.top_layers,
            "top_epochs": top.TOP_EPOCHS,
            "top_lr": top.TOP_LEARNING_RATE,
        }

    def run(self, corpus, tags, train_idx, test_idx, progress):
        from nerqa.models import top

        frozen = self.shared.get(corpus, progress)
        return top.fit_top(
            frozen,
            label_ids(corpus, tags),
            corpus.sentence_doc_index,
            train_idx,
            test_idx,
            len(tags),
            settings=top.TopSettings(
                model=self.config.model,
                seed=self.config.seed,
                epochs=top.TOP_EPOCHS,
                lr=top.TOP_LEARNING_RATE,
                batch_size=self.config.batch_size,
            ),
            progress=progress,
        )


class OnceRunner(FullRunner):
    """`once`: the full runner's fine-tuning once, on every sentence, for its training dynamics
    alone (it predicts nothing: no sentence is held out of it). One pass over the corpus per
    epoch, where k folds take k - 1."""

    mode = "once"

    def __init__(self, config: TrainConfig, *, shapes: bool | None = None) -> None:
        super().__init__(config, dynamics=True, shapes=shapes)


RUNNERS = {"full": FullRunner, "fast": FastRunner, "top": TopRunner}
# What each mode averages.
COMPONENTS = {
    "both": ("full", "fast"),
    "full": ("full",),
    "fast": ("fast",),
    "top": ("top",),
    "top+fast": ("top", "fast"),
    # The out-of-sample probabilities from fast alone; the dynamics from one fine-tuning (`OnceRunner`).
    "once+fast": ("fast",),
}
# The modes whose dynamics come from one fine-tuning on the whole corpus, not from the folds.
ONCE_MODES = frozenset({"once+fast"})
