"""One pass of a frozen encoder over a corpus.

One pass of a frozen encoder over a corpus (`frozen_pass`): the hidden states that enter the top
layers, for the `top` fold mode, and the word features the fast head reads. Run once per audit
and shared by the fold heads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerqa.data.shape import word_shapes
from nerqa.errors import ModelError
from nerqa.models.classifier import batched_forward
from nerqa.models.loading import load_encoder, window_limit
from nerqa.models.runtime import device
from nerqa.models.windows import Window, encode
from nerqa.progress import ProgressCallback, quiet

FEATURE_LAYERS = 4
# How many top layers the `top` fold mode fine-tunes (the frozen pass keeps the states entering them).
TOP_LAYERS = 2


@dataclass
class FrozenPass:
    """One pass of the frozen encoder over a corpus's sentences.

    Attributes:
        windows: the sentences' windows (`nerqa.models.windows.encode`, unlabeled).
        states: per window, `(len(window), hidden)` float16: the hidden states entering the
            top `top_layers` layers (None when not asked for).
        features: per sentence, `(n_words, FEATURE_LAYERS * hidden)` float16: the last
            layers at each word's first sub-word, the fast head's features.
        shapes: per sentence, `(n_words, N_SHAPES)` float32 word shapes.
        top_layers: how many layers the states skip.
        seconds: wall time of the pass.
    """

    windows: list[Window]
    states: list[np.ndarray] | None
    features: list[np.ndarray]
    shapes: list[np.ndarray]
    top_layers: int
    seconds: float


def frozen_pass(
    sentences: Sequence[Sequence[str]],
    model: str | Path | None,
    *,
    max_length: int = 128,
    stride: int = 32,
    top_layers: int | None = TOP_LAYERS,
    batch_size: int = 64,
    progress: ProgressCallback = quiet,
    loaded: tuple | None = None,
) -> FrozenPass:
    """Run the frozen encoder once over `sentences`: the fast head's word features and, with
    `top_layers`, the states entering the top layers. Progress task `features`, in windows.

    `loaded`: `(encoder, tokenizer)` already in memory (`load_encoder`), used instead of
    loading `model` again (a server predicting many requests with one encoder)."""
    started = time.perf_counter()
    encoder, tokenizer = loaded if loaded is not None else load_encoder(model)
    n_layers = encoder.config.num_hidden_layers
    if top_layers is not None and not 1 <= top_layers <= n_layers:
        raise ModelError(f"top layers must be between 1 and {n_layers}, not {top_layers}")
    windows = encode(tokenizer, sentences, max_length=window_limit(encoder, max_length), stride=stride)
    hidden = encoder.config.hidden_size
    layers = min(FEATURE_LAYERS, n_layers + 1)  # hidden_states include the embeddings
    features = [np.zeros((len(s), layers * hidden), dtype=np.float16) for s in sentences]
    states: list[np.ndarray] | None = [np.empty(0)] * len(windows) if top_layers else None

    def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden_states = encoder(**batch, output_hidden_states=True).hidden_states
        kept = list(hidden_states[-layers:])
        if top_layers:
            kept.append(hidden_states[n_layers - top_layers])  # the input of the first top layer
        return torch.cat(kept, dim=-1)

    for chosen, stacked in batched_forward(
        windows,
        forward,
        pad_id=tokenizer.pad_token_id or 0,
        on=device(),
        batch_size=batch_size,
        progress=progress,
        task="features",
    ):
        for row, index in enumerate(chosen):
            window = windows[index]
            for position, word in window.owned:
                features[window.sentence][word] = stacked[row, position, : layers * hidden]
            if states is not None:
                states[index] = stacked[row, : len(window), layers * hidden :].astype(np.float16)
    shapes = [word_shapes(s) for s in sentences]
    return FrozenPass(windows, states, features, shapes, top_layers or 0, time.perf_counter() - started)
