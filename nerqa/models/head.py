"""The fast mode's classifier: a BiLSTM head over frozen-encoder word features.

The fast mode's classifier: frozen-encoder word features and a small BiLSTM head over them.

`word_features` runs the frozen encoder once over a corpus; `fit_head` trains a head on some
sentences' features and predicts the others'. Cross-validation (`nerqa.auditing.crossval`) calls
`fit_head` once per fold, so a fold costs seconds instead of a fine-tuning run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerqa.models.runtime import device
from nerqa.models.windows import IGNORE, length_batches
from nerqa.progress import ProgressCallback, quiet

# Part of the fast mode's cache key: change it when the head or its features change, so
# folds cached by an older head are not reused.
HEAD_VERSION = "bilstm-4layers-shapes"


def word_features(
    sentences: Sequence[Sequence[str]],
    model: str | Path | None,
    *,
    max_length: int = 128,
    stride: int = 32,
    batch_size: int = 64,
    progress: ProgressCallback = quiet,
) -> list[np.ndarray]:
    """Frozen-encoder features per word: the last four hidden states at the word's first
    sub-word, concatenated (the feature-based recipe of the BERT paper).

    Returns per sentence an `(n_words, 4 * hidden)` float16 array (half the memory; the
    head computes in float32). Progress task `features`, in windows.
    """
    from nerqa.models.frozen import frozen_pass

    return frozen_pass(
        sentences,
        model,
        max_length=max_length,
        stride=stride,
        top_layers=None,
        batch_size=batch_size,
        progress=progress,
    ).features


class BiLSTMHead(torch.nn.Module):
    """Dropout -> linear projection -> BiLSTM -> linear, over one sentence's word features:
    the BiLSTM gives the frozen features the sentence context a linear head lacks (CV F1 on
    2,004 NCBI sentences: 0.58 against 0.38 for a softmax head on the same features)."""

    def __init__(self, n_features: int, n_tags: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.project = torch.nn.Linear(n_features, hidden)
        self.lstm = torch.nn.LSTM(hidden, hidden // 2, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(hidden, n_tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, words, features) -> (batch, words, tags)
        h, _ = self.lstm(torch.relu(self.project(self.dropout(x))))
        return self.out(self.dropout(h))


@dataclass
class TrainedHead:
    """A trained BiLSTM head and the standardisation of its inputs: what predicts from word
    features after `train_head`, and what `state` / `from_state` save and load.

    Attributes:
        head: the module, in eval mode.
        mean, std: `(n_inputs,)` float32: inputs are `(x - mean) / std`, where x is a word's
            features joined to its shapes when `shapes` is true.
        shapes: whether word shapes are joined to the features.
    """

    head: BiLSTMHead
    mean: torch.Tensor
    std: torch.Tensor
    shapes: bool

    def predict(self, features: Sequence[np.ndarray], shapes: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Per sentence, `(n_words, n_tags)` float32 probabilities.

        Args:
            features: per sentence, `(n_words, n_features)` word features.
            shapes: per sentence, `(n_words, N_SHAPES)` word shapes, when the head reads them.
        """
        on = self.mean.device
        # Sentences of one length go through together: no padding, so each gets exactly what it
        # would alone (padding would reach the real words through the backward LSTM).
        out: dict[int, np.ndarray] = {}
        by_length: dict[int, list[int]] = {}
        for i, sentence in enumerate(features):
            by_length.setdefault(len(sentence), []).append(i)
        with torch.no_grad():
            for group in by_length.values():
                for start in range(0, len(group), 256):
                    ids = group[start : start + 256]
                    x = torch.stack([self._scaled(features[i], shapes[i] if shapes is not None else None) for i in ids])
                    out.update(zip(ids, torch.softmax(self.head(x.to(on)), -1).cpu().numpy()))
        return [out[i] for i in range(len(features))]

    def _scaled(self, features: np.ndarray, shapes: np.ndarray | None) -> torch.Tensor:
        x = features.astype(np.float32)
        if self.shapes:
            x = np.concatenate([x, shapes], axis=1)
        return (torch.from_numpy(x).to(self.mean.device) - self.mean) / self.std

    def state(self) -> dict:
        """Everything needed to rebuild the head, for `torch.save`."""
        return {
            "weights": self.head.state_dict(),
            "mean": self.mean.cpu(),
            "std": self.std.cpu(),
            "shapes": self.shapes,
            "n_tags": self.head.out.out_features,
            "hidden": self.head.project.out_features,
            "version": HEAD_VERSION,
        }

    @classmethod
    def from_state(cls, state: dict) -> TrainedHead:
        """The head `state` describes, in eval mode on `device()`."""
        on = device()
        head = BiLSTMHead(len(state["mean"]), state["n_tags"], state["hidden"], 0.0)
        head.load_state_dict(state["weights"])
        return cls(head.to(on).eval(), state["mean"].to(on), state["std"].to(on), state["shapes"])


@dataclass(frozen=True)
class HeadSettings:
    """A fast head's size and training: `epochs` over the training sentences, Adam's peak `lr`
    (one-cycle), the BiLSTM's `hidden` units per direction, `batch_size` sentences and
    `dropout`. The defaults, 8 epochs at hidden 256, are as good as 15 epochs in a third of the
    time (docs/benchmarks.md)."""

    epochs: int = 8
    lr: float = 2e-3
    hidden: int = 256
    batch_size: int = 32
    dropout: float = 0.3


def train_head(
    features: Sequence[np.ndarray],
    labels: Sequence[Sequence[int]],
    train_idx: Sequence[int],
    n_tags: int,
    *,
    shapes: Sequence[np.ndarray] | None = None,
    seed: int,
    settings: HeadSettings | None = None,
) -> TrainedHead:
    """Train a BiLSTM head on the training sentences (Adam, one-cycle lr).

    Args:
        features: per sentence, `(n_words, n_features)` word features (`word_features`).
        shapes: per sentence, `(n_words, N_SHAPES)` word shapes (`nerqa.data.shape`), joined to
            the features when given.
        labels: per sentence, a label id per word (only the training sentences' are read).
        train_idx: the sentence indices to train on.
        n_tags: the number of tags (the output layer's width).
        seed: seeds the weights and the batch order.
        settings: the head's size and training (default `HeadSettings()`).

    Returns:
        The trained head, on `device()`.
    """
    settings = settings or HeadSettings()
    epochs, lr, hidden = settings.epochs, settings.lr, settings.hidden
    batch_size, dropout = settings.batch_size, settings.dropout
    on = device()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_idx = [int(i) for i in train_idx]

    def joined(i: int) -> np.ndarray:  # (n_words, n_features [+ N_SHAPES]) float32
        x = features[i].astype(np.float32)
        return np.concatenate([x, shapes[i]], axis=1) if shapes is not None else x

    sample = np.concatenate([joined(i) for i in train_idx[:: max(1, len(train_idx) // 2000)]])
    mean, std = torch.from_numpy(sample.mean(0)).to(on), torch.from_numpy(sample.std(0) + 1e-5).to(on)
    targets = {i: torch.tensor(list(labels[i])) for i in train_idx}

    def scaled(i: int) -> torch.Tensor:  # (n_words, n_features) float32, standardised
        return (torch.from_numpy(joined(i)).to(on) - mean) / std

    # Batches are built per step rather than once, so the float32 copy of the training
    # features never exists whole (the float16 features are the corpus's only copy).
    def batch(ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        length = max(len(features[i]) for i in ids)
        x = torch.zeros(len(ids), length, len(mean), device=on)
        y = torch.full((len(ids), length), IGNORE, device=on)
        for row, i in enumerate(ids):
            x[row, : len(features[i])] = scaled(i)
            y[row, : len(features[i])] = targets[i]
        return x, y

    # Length-sorted batches waste little on padding; their order is shuffled each epoch.
    batches = length_batches(train_idx, lambda i: len(features[i]), batch_size)
    head = BiLSTMHead(len(mean), n_tags, hidden, dropout).to(on)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(1, epochs * len(batches)))
    head.train()
    for _ in range(epochs):
        for b in torch.randperm(len(batches), generator=generator).tolist():
            x, y = batch(batches[b])
            loss = torch.nn.functional.cross_entropy(head(x).reshape(-1, n_tags), y.reshape(-1), ignore_index=IGNORE)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    head.eval()
    return TrainedHead(head, mean, std, shapes is not None)


def fit_head(
    features: Sequence[np.ndarray],
    labels: Sequence[Sequence[int]],
    train_idx: Sequence[int],
    test_idx: Sequence[int],
    n_tags: int,
    *,
    shapes: Sequence[np.ndarray] | None = None,
    seed: int,
    settings: HeadSettings | None = None,
) -> list[np.ndarray]:
    """Train a head on the training sentences (`train_head`, with `settings`) and predict the
    held-out ones (`test_idx`); the other arguments are `train_head`'s.

    Returns:
        Per held-out sentence (in `test_idx` order), `(n_words, n_tags)` float32 probabilities.

    Args:
        features: per sentence, `(n_words, n_features)` word features.
        labels: per sentence, a label id per word (only the training sentences' are read).
        train_idx: the sentences to train on.
        test_idx: the sentences to predict.
        n_tags: the number of tags.
        shapes: per sentence, `(n_words, N_SHAPES)` word shapes, joined to the features when given.
        seed: seeds the weights and the batch order.
        settings: the head's size and training (default `HeadSettings()`).
    """
    trained = train_head(features, labels, train_idx, n_tags, shapes=shapes, seed=seed, settings=settings)
    held_out = [int(i) for i in test_idx]
    return trained.predict(
        [features[i] for i in held_out], [shapes[i] for i in held_out] if shapes is not None else None
    )
