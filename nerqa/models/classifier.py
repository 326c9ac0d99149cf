"""The token classifier, with word shapes, and its saving.

The token classifier: `ShapedTokenClassifier` (word shapes into a fine-tuned encoder), the
`Classifier` a trained folder loads as, and the batching of windows through it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerqa.errors import ModelError
from nerqa.models.loading import (
    check_model_folder,
    load_pretrained,
    load_tokenizer,
    window_limit,
)
from nerqa.models.runtime import (
    autocast,
    device,
)
from nerqa.models.windows import Window, length_batches
from nerqa.progress import ProgressCallback, quiet


class ShapedTokenClassifier(torch.nn.Module):
    """A Hugging Face token classifier that also reads word shapes (`nerqa.data.shape`), which an
    uncased encoder never sees: projected into the input embeddings at each word's first
    sub-word (so attention sees the neighbours' capitalisation too) and into the logits.
    Both projections start at zero, so training starts from exactly the wrapped model.

    forward: `input_ids`, `attention_mask` `(batch, positions)`, `shapes` `(batch, positions,
    N_SHAPES)`, optional `labels` -> a `TokenClassifierOutput` (logits `(batch, positions,
    n_tags)`, loss with labels). Used for the audit's fold models, which are never saved.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        from nerqa.data.shape import N_SHAPES

        super().__init__()
        self.model = model
        self.config = model.config
        self.shape_in = torch.nn.Linear(N_SHAPES, model.config.hidden_size, bias=False)
        self.shape_out = torch.nn.Linear(N_SHAPES, model.config.num_labels, bias=False)
        torch.nn.init.zeros_(self.shape_in.weight)
        torch.nn.init.zeros_(self.shape_out.weight)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        shapes: torch.Tensor,
        labels: torch.Tensor | None = None,
    ):
        from transformers.modeling_outputs import TokenClassifierOutput

        embeds = self.model.get_input_embeddings()(input_ids)
        shapes = shapes.to(embeds.dtype)
        logits = self.model(
            inputs_embeds=embeds + self.shape_in(shapes), attention_mask=attention_mask
        ).logits + self.shape_out(shapes)
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
            )
        return TokenClassifierOutput(loss=loss, logits=logits)


@dataclass
class Classifier:
    """A token classifier in memory: the model, its tokenizer and its tag order (`tags[i]` is
    label id i). `max_length` and `stride` (sub-words) set how long sentences are windowed."""

    model: torch.nn.Module
    tokenizer: object
    tags: tuple[str, ...]
    max_length: int = 128
    stride: int = 32

    def save(self, folder: str | Path) -> None:
        """Write a standard Hugging Face model folder (weights, config with id2label, tokenizer)."""
        if isinstance(self.model, ShapedTokenClassifier):
            raise ModelError(
                "a model trained with word shapes is not a standard Hugging Face model and cannot be saved"
            )
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


def load_classifier(folder: str | Path) -> Classifier:
    """Load a trained token classifier folder (as `nerqa train` writes, or any HF one)."""
    from transformers import AutoModelForTokenClassification

    folder = Path(folder)
    check_model_folder(folder)
    tokenizer = load_tokenizer(folder)
    model = load_pretrained(AutoModelForTokenClassification, folder, "model")
    id2label = model.config.id2label
    tags = tuple(id2label[i] for i in range(len(id2label)))
    if not any(t.startswith(("B-", "I-")) for t in tags):
        raise ModelError(
            f"{folder}: the model's labels {list(tags)[:6]} are not IOB tags; was it trained for token classification?"
        )
    return Classifier(model.to(device()).eval(), tokenizer, tags, window_limit(model, 512))


def collate(
    windows: Sequence[Window], pad_id: int, to: torch.device, shapes: Sequence[np.ndarray] | None = None
) -> dict[str, torch.Tensor]:
    """Pad windows into `input_ids` and `attention_mask` tensors of shape `(batch, longest)`,
    and with `shapes` (per window, `(len(window), N_SHAPES)`) a `shapes` tensor `(batch, longest, N_SHAPES)`."""
    width = max(len(w) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        ids[row, : len(window)] = torch.tensor(window.input_ids)
        mask[row, : len(window)] = 1
    batch = {"input_ids": ids.to(to), "attention_mask": mask.to(to)}
    if shapes is not None:
        batch["shapes"] = pad_shapes(shapes, width).to(to)
    return batch


def pad_shapes(shapes: Sequence[np.ndarray], width: int) -> torch.Tensor:
    """Per-window word shapes `(len(window), N_SHAPES)` padded into `(batch, width, N_SHAPES)`."""
    out = torch.zeros((len(shapes), width, shapes[0].shape[1] if len(shapes) else 0))
    for row, array in enumerate(shapes):
        out[row, : len(array)] = torch.from_numpy(array)
    return out


def batched_forward(
    windows: Sequence[Window],
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    *,
    pad_id: int,
    on: torch.device,
    batch_size: int = 64,
    progress: ProgressCallback = quiet,
    task: str = "predict",
    shapes: Sequence[np.ndarray] | None = None,
) -> Iterator[tuple[list[int], np.ndarray]]:
    """Run `forward` over windows in batches of similar length (longest first, so memory
    problems show at once); yields `(window indices, outputs)` with outputs a float32
    `(batch, longest, dim)` array. Inference mode, under `autocast`. `shapes`: per window,
    its word shapes, given to `forward` as `batch["shapes"]`."""
    done = 0
    with torch.inference_mode():
        for chosen in length_batches(range(len(windows)), lambda i: len(windows[i]), batch_size, longest_first=True):
            batch = collate(
                [windows[i] for i in chosen], pad_id, on, [shapes[i] for i in chosen] if shapes is not None else None
            )
            with autocast(on):
                output = forward(batch)
            yield chosen, output.float().cpu().numpy()
            done += len(chosen)
            progress(task, done, len(windows), {})
