"""The `top` fold mode: fine-tune only the encoder's top layers.

The `top` fold mode: fine-tune only the encoder's top layers, over lower layers run once.

Fine-tuning a whole encoder per fold repeats the same work K times: the lower layers change
little in fine-tuning, yet every step runs them forward and backward. Here one frozen pass
over the corpus (`frozen_pass`) keeps, for every window, the hidden states that enter the
top `top_layers` layers; each fold then trains a copy of just those layers (from the
pretrained weights) and a word classifier on those states (`fit_top`), so an epoch costs
about `top_layers / n_layers` of a full one. The same pass also gives the fast head its
features, so a `top` + `fast` audit runs the encoder over the corpus once.

Word shapes (`nerqa.data.shape`) reach the model twice: added, through a zero-initialised
projection, to the first sub-word of each word in the states the top layers read (so
attention sees the capitalisation of the neighbours as well), and beside the top layer's
output at the classifier.

Each fold stops by itself: a tenth of its training documents is held out, and the epoch with
the lowest held-out log loss of the given labels is kept (the pred_probs are for scoring, so
calibration is what is chosen for; it also keeps a bad epoch count from hurting).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerqa.data.shape import N_SHAPES, window_shapes
from nerqa.errors import ModelError
from nerqa.models.frozen import FrozenPass
from nerqa.models.loading import load_pretrained
from nerqa.models.runtime import autocast, device, model_path
from nerqa.models.windows import IGNORE, length_batches
from nerqa.progress import ProgressCallback, quiet

# Part of the fold cache key: change it when the model or its training changes.
TOP_VERSION = "top-v1"
# Two fresh-ish layers and a new classifier take a higher rate than a whole encoder; early
# stopping picks the epoch (docs/benchmarks.md).
TOP_EPOCHS = 12
TOP_LEARNING_RATE = 1e-3


class _PassThrough(torch.nn.Module):
    """Stands in for the embeddings: the states given as `inputs_embeds` go straight in."""

    def forward(self, inputs_embeds: torch.Tensor | None = None, **_: object) -> torch.Tensor:
        return inputs_embeds  # type: ignore[return-value]


class TopModel(torch.nn.Module):
    """The encoder's top `top_layers` layers (pretrained weights) and a word classifier.

    forward: states `(batch, positions, hidden)`, attention mask `(batch, positions)`, word
    shapes at each word's first sub-word `(batch, positions, N_SHAPES)` (zeros elsewhere)
    -> logits `(batch, positions, n_tags)`.
    """

    def __init__(self, model: str | Path | None, top_layers: int, n_tags: int, *, dropout: float = 0.1) -> None:
        from transformers import AutoModel

        super().__init__()
        path = model_path(model)
        base = load_pretrained(AutoModel, path, "encoder")
        layers = getattr(getattr(base, "encoder", None), "layer", None)
        if not hasattr(base, "embeddings") or not isinstance(layers, torch.nn.ModuleList):
            raise ModelError(
                f"{path}: the top mode needs a BERT-style encoder (embeddings, encoder.layer); use --mode full"
            )
        base.encoder.layer = torch.nn.ModuleList(list(layers)[-top_layers:])
        base.config.num_hidden_layers = top_layers
        base.embeddings = _PassThrough()
        if hasattr(base, "pooler"):
            base.pooler = None
        self.encoder = base
        hidden = base.config.hidden_size
        # Zero at the start, so the top layers first read exactly the states they were trained on.
        self.shape_in = torch.nn.Linear(N_SHAPES, hidden, bias=False)
        torch.nn.init.zeros_(self.shape_in.weight)
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(hidden + N_SHAPES, n_tags)

    def forward(self, states: torch.Tensor, mask: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
        h = self.encoder(inputs_embeds=states + self.shape_in(shapes), attention_mask=mask).last_hidden_state
        return self.out(self.dropout(torch.cat([h, shapes], dim=-1)))


def _batch(
    frozen: FrozenPass, ids: Sequence[int], labels: Sequence[Sequence[int]] | None, on: torch.device
) -> tuple[torch.Tensor, ...]:
    """Padded tensors for windows `ids`: states, mask, shapes, and labels (`IGNORE` off the owned positions)."""
    assert frozen.states is not None
    width = max(len(frozen.windows[i]) for i in ids)
    hidden = frozen.states[ids[0]].shape[1]
    states = torch.zeros(len(ids), width, hidden)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    shapes = torch.zeros(len(ids), width, N_SHAPES)
    targets = torch.full((len(ids), width), IGNORE, dtype=torch.long)
    for row, i in enumerate(ids):
        window = frozen.windows[i]
        states[row, : len(window)] = torch.from_numpy(frozen.states[i].astype(np.float32))
        mask[row, : len(window)] = 1
        shapes[row, : len(window)] = torch.from_numpy(
            window_shapes(window.owned, len(window), frozen.shapes[window.sentence])
        )
        if labels is not None:
            positions, words = [p for p, _ in window.owned], [w for _, w in window.owned]
            targets[row, positions] = torch.tensor([labels[window.sentence][w] for w in words], dtype=torch.long)
    return states.to(on), mask.to(on), shapes.to(on), targets.to(on)


def _batches(frozen: FrozenPass, windows: Sequence[int], size: int) -> list[list[int]]:
    """Windows cut into batches of near-equal length (little padding)."""
    return length_batches(windows, lambda i: len(frozen.windows[i]), size)


def inner_split(
    train_idx: Sequence[int], groups: Sequence[int], *, share: float = 0.1, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split training sentences into (fit, stop) by whole groups (documents): about `share`
    of the sentences, at least one group, go to the stopping part. With one group, nothing does."""
    by_group: dict[int, list[int]] = {}
    for i in train_idx:
        by_group.setdefault(int(groups[int(i)]), []).append(int(i))
    if len(by_group) < 2:
        return [int(i) for i in train_idx], []
    rng = np.random.default_rng(seed)
    order = rng.permutation(sorted(by_group))
    stop: list[int] = []
    for group in order:
        if stop and len(stop) >= share * len(train_idx):
            break
        stop += by_group[int(group)]
    held = set(stop)
    return [int(i) for i in train_idx if int(i) not in held], stop


@dataclass(frozen=True)
class TopSettings:
    """How `fit_top` trains: the encoder folder `model` whose top layers it fine-tunes (None:
    the bundled MiniLM), the `seed`, at most `epochs` (stopping after `patience` epochs without
    a better held-out log loss, the best epoch's weights kept), AdamW's peak `lr` and
    `batch_size` windows."""

    model: str | Path | None = None
    seed: int = 42
    epochs: int = TOP_EPOCHS
    patience: int = 2
    lr: float = TOP_LEARNING_RATE
    batch_size: int = 32


def fit_top(
    frozen: FrozenPass,
    labels: Sequence[Sequence[int]],
    groups: Sequence[int],
    train_idx: Sequence[int],
    test_idx: Sequence[int],
    n_tags: int,
    *,
    settings: TopSettings,
    progress: ProgressCallback = quiet,
) -> list[np.ndarray]:
    """Fine-tune the top layers on the training sentences and predict the held-out ones.

    Args:
        frozen: the corpus's `frozen_pass` (with states).
        labels: per sentence, a label id per word (only the training sentences' are read).
        groups: per sentence, its document number (the early-stopping split keeps documents whole).
        train_idx, test_idx: sentence indices to train on and to predict.
        n_tags: the number of tags (the output layer's width).
        settings: the encoder, seed and schedule (`TopSettings`).
        progress: `train` per step and `epoch` per epoch.

    Returns:
        Per held-out sentence (in `test_idx` order), `(n_words, n_tags)` float32 probabilities.
    """
    model, seed, epochs, patience = settings.model, settings.seed, settings.epochs, settings.patience
    lr, batch_size = settings.lr, settings.batch_size
    on = device()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    fit, stop = inner_split(train_idx, groups, seed=seed)
    windows_of: dict[int, list[int]] = {}
    for w, window in enumerate(frozen.windows):
        windows_of.setdefault(window.sentence, []).append(w)
    fit_batches = _batches(frozen, [w for i in fit for w in windows_of[i]], batch_size)
    stop_batches = _batches(frozen, [w for i in stop for w in windows_of[i]], 128)
    net = TopModel(model, frozen.top_layers, n_tags).to(on)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    total = max(1, epochs * len(fit_batches))
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))
    )
    best: tuple[float, int, dict] | None = None
    step = 0
    for epoch in range(1, epochs + 1):
        net.train()
        losses = []
        for b in torch.randperm(len(fit_batches), generator=generator).tolist():
            states, mask, shapes, targets = _batch(frozen, fit_batches[b], labels, on)
            with autocast(on):
                logits = net(states, mask, shapes)
            loss = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, n_tags), targets.reshape(-1), ignore_index=IGNORE
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
            progress("train", step, total, {"epoch": epoch})
        info: dict = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else 0.0}
        if stop_batches:
            held = _log_loss(net, frozen, stop_batches, labels, n_tags, on)
            info["stop_loss"] = held
            if best is None or held < best[0]:
                best = (held, epoch, copy.deepcopy(net.state_dict()))
            elif epoch - best[1] >= patience:
                info["stopped_early"] = True
        progress("epoch", epoch, epochs, info)
        if info.get("stopped_early"):
            break
    if best is not None:
        net.load_state_dict(best[2])
    return predict_top(net, frozen, test_idx, windows_of, on)


def _log_loss(
    net: TopModel, frozen: FrozenPass, batches: Sequence[Sequence[int]], labels, n_tags: int, on: torch.device
) -> float:
    """Mean negative log probability of the given labels over the owned words of `batches`."""
    net.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for ids in batches:
            states, mask, shapes, targets = _batch(frozen, ids, labels, on)
            with autocast(on):
                logits = net(states, mask, shapes)
            total += torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, n_tags), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
            ).item()
            count += int((targets != IGNORE).sum())
    return total / count if count else math.inf


def predict_top(
    net: TopModel, frozen: FrozenPass, sentence_idx: Sequence[int], windows_of: dict[int, list[int]], on: torch.device
) -> list[np.ndarray]:
    """Word probabilities `(n_words, n_tags)` float32 for each sentence of `sentence_idx`, in order."""
    net.eval()
    wanted = [w for i in sentence_idx for w in windows_of[int(i)]]
    out = {int(i): np.zeros((len(frozen.shapes[int(i)]), net.out.out_features), dtype=np.float32) for i in sentence_idx}
    with torch.inference_mode():
        for ids in _batches(frozen, wanted, 128):
            states, mask, shapes, _ = _batch(frozen, ids, None, on)
            with autocast(on):
                probs = torch.softmax(net(states, mask, shapes).float(), dim=-1).cpu().numpy()
            for row, w in enumerate(ids):
                window = frozen.windows[w]
                for position, word in window.owned:
                    out[window.sentence][word] = probs[row, position]
    return [out[int(i)] for i in sentence_idx]
