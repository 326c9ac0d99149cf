"""What `select` asks of a model: pred_probs and sentence embeddings.

What `select` asks of a model: pred_probs and a sentence embedding per sentence, from a
trained classifier or (cold start) from the bare encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from nerqa.active.strategies import (
    EPS,
)
from nerqa.errors import NerqaError

if TYPE_CHECKING:
    from nerqa.models.classifier import Classifier


class Predictor(Protocol):
    """What selection needs from a model. `tags` is the column order of the probabilities,
    empty for an encoder without a classifier (cold start)."""

    tags: tuple[str, ...]

    def __call__(self, sentences: Sequence[Sequence[str]]) -> tuple[list[np.ndarray] | None, np.ndarray]:
        """Per sentence, `(n_words, n_tags)` probabilities (None for an encoder alone), and
        an `(n_sentences, dim)` float32 array of L2-normalised sentence embeddings."""
        ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), EPS)).astype(np.float32)


class _EncoderPass:
    """One forward pass over windows giving word-level outputs and word-mean embeddings: the
    `Predictor` that both predictors below are."""

    tags: tuple[str, ...] = ()

    def __init__(self, model, tokenizer, max_length: int, stride: int, batch_size: int, head: Callable | None) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.max_length, self.stride, self.batch_size = max_length, stride, batch_size
        self.head = head  # hidden states -> probabilities, or None for embeddings only

    def __call__(self, sentences: Sequence[Sequence[str]]) -> tuple[list[np.ndarray] | None, np.ndarray]:
        import torch

        from nerqa.models.classifier import batched_forward
        from nerqa.models.windows import encode

        windows = encode(self.tokenizer, sentences, max_length=self.max_length, stride=self.stride)
        on = next(self.model.parameters()).device
        hidden_size = self.model.config.hidden_size
        sums = np.zeros((len(sentences), hidden_size), dtype=np.float64)
        counts = np.zeros(len(sentences))
        probs = [np.zeros((len(s), 0), dtype=np.float32) for s in sentences] if self.head is None else None
        head = self.head

        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            # The encoder's last hidden state alone (not every layer's): `base_model` is the
            # encoder inside a token classifier, and the model itself for a bare encoder.
            hidden = self.model.base_model(**batch)[0]
            if head is None:
                return hidden
            return torch.cat([hidden, torch.softmax(head(hidden).float(), dim=-1)], dim=-1)

        outputs: dict[int, np.ndarray] = {}
        for chosen, stacked in batched_forward(
            windows, forward, pad_id=self.tokenizer.pad_token_id or 0, on=on, batch_size=self.batch_size
        ):
            for row, index in enumerate(chosen):
                window = windows[index]
                positions = [p for p, _ in window.owned]
                sums[window.sentence] += stacked[row, positions, :hidden_size].sum(axis=0)
                counts[window.sentence] += len(positions)
                if head is not None:
                    outputs[index] = stacked[row, : len(window), hidden_size:]
        embeddings = _normalised(sums / np.maximum(counts, 1)[:, None])
        if head is None:
            return probs, embeddings
        from nerqa.models.windows import word_probabilities

        return word_probabilities(
            windows, [outputs[i] for i in range(len(windows))], [len(s) for s in sentences]
        ), embeddings


class ClassifierPredictor(_EncoderPass):
    """A trained token classifier (`nerqa train`'s folder): probabilities and embeddings from
    one forward pass (the classification layer is applied to the last hidden state)."""

    def __init__(self, classifier: Classifier, *, batch_size: int = 64) -> None:
        model = classifier.model
        # Token classifiers apply dropout (a no-op in eval) then the linear layer to the last
        # hidden state; calling the layer ourselves gives the logits and the states at once.
        layer = getattr(model, "classifier", None)
        if layer is None:
            raise NerqaError(f"{type(model).__name__}: no `classifier` layer to score with")
        super().__init__(model, classifier.tokenizer, classifier.max_length, classifier.stride, batch_size, layer)
        self.tags = classifier.tags


class EncoderPredictor(_EncoderPass):
    """An encoder alone (cold start, before any model is trained): embeddings, no probabilities."""

    def __init__(
        self, path: str | Path | None = None, *, max_length: int = 128, stride: int = 32, batch_size: int = 64
    ) -> None:
        from nerqa.models.loading import load_encoder, window_limit

        encoder, tokenizer = load_encoder(path)
        super().__init__(encoder, tokenizer, window_limit(encoder, max_length), stride, batch_size, None)
