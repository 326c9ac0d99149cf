"""Fine-tuning a token classifier and saving its model folder.

Fine-tune a transformer token classifier with the transformers `Trainer`.

`train()` fine-tunes, with the Trainer pieces of `nerqa.models.trainer_setup`; `save_training`
writes the model folder; `train_to_folder` does both, with the metrics, as `nerqa train` does.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus, label_ids
from nerqa.errors import NerqaError
from nerqa.files import atomic_folder
from nerqa.models.classifier import Classifier, ShapedTokenClassifier
from nerqa.models.loading import load_pretrained, load_tokenizer, window_limit
from nerqa.models.predict import evaluate
from nerqa.models.runtime import model_path, process_rank
from nerqa.models.trainer_setup import (
    BucketTrainer,
    DevEvaluation,
    ProgressReporter,
    TrainResult,
    training_arguments,
    weighted_loss,
)
from nerqa.models.windows import encode
from nerqa.progress import ProgressCallback, quiet

CONFIG_FILE = "nerqa_train.yaml"
METRICS_FILE = "metrics.json"
TRAIN_LOG = "train.log"


def _log_to_tensorboard(trainer, folder: str | Path) -> None:
    """TensorBoard logs of the run in `folder`, where tensorboard is installed."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        return
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    trainer.add_callback(TensorBoardCallback(SummaryWriter(log_dir=str(folder))))


@dataclass(frozen=True)
class TrainingExtras:
    """What a fine-tuning reads, learns and keeps besides the tags.

    Attributes:
        dynamics: keep the training dynamics in `TrainResult.dynamics`: what the model read in
            each training sentence each time it trained on it.
        shapes: the model also reads word shapes (`nerqa.models.classifier.ShapedTokenClassifier`;
            it cannot be saved as a Hugging Face folder).
        targets: per sentence, an `(n_words, n_tags)` distribution over the tags for each word's
            first sub-word to learn instead of its tag (`nerqa.models.targets`), or None.
    """

    dynamics: bool = False
    shapes: bool = False
    targets: Sequence[np.ndarray | None] | None = None


def train(
    corpus: Corpus,
    config: TrainConfig,
    *,
    dev: Corpus | None = None,
    tags: Sequence[str] | None = None,
    progress: ProgressCallback = quiet,
    logging_dir: str | Path | None = None,
    extras: TrainingExtras | None = None,
) -> TrainResult:
    """Fine-tune `config.model` (default: bundled MiniLM) on `corpus`.

    Args:
        corpus: the training corpus.
        config: every training setting (`TrainConfig`).
        dev: a dev corpus whose entity F1 is measured after each epoch: the best epoch's
            weights are kept, and training stops after `early_stopping_patience` epochs
            without a better one.
        tags: the tag set (default: the corpus's), e.g. one every cross-validation fold shares.
        progress: Progress callback `(task, completed, total, info)`: `train` per step,
            `epoch` per epoch.
        logging_dir: where TensorBoard logs go (with `config.tensorboard`).
        extras: what the fine-tuning reads, learns and keeps besides the tags (`TrainingExtras`;
            the audit's folds set these).

    Returns:
        The `TrainResult`: the classifier, the epochs' history and the timings.

    Raises:
        NerqaError: the model cannot be loaded, or LoRA is asked for without peft.
    """
    from transformers import DataCollatorForTokenClassification, set_seed
    from transformers.trainer_callback import PrinterCallback

    if process_rank() != 0:
        progress = quiet  # data-parallel: rank 0 reports for all
    extras = extras or TrainingExtras()
    tags, labels = _labels(corpus, dev, tags)
    encoder = model_path(config.model)
    tokenizer = load_tokenizer(encoder)
    set_seed(config.seed)
    pretrained = _pretrained(encoder, tags)
    max_length = window_limit(pretrained, config.max_length)
    windows, dataset = _training_windows(corpus, tokenizer, labels, config, max_length, shapes=extras.shapes)
    if extras.targets is not None:
        _add_targets(dataset, windows, extras.targets, len(tags))
    total_parameters = sum(p.numel() for p in pretrained.parameters())
    model = _to_train(pretrained, config, extras.shapes)
    record: list[list[np.ndarray]] | None = [[] for _ in windows] if extras.dynamics else None
    result = TrainResult(Classifier(model, tokenizer, tags, max_length, config.stride))
    result.trainable_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result.total_parameters = total_parameters  # the model's own, without adapters or shape projections
    gpu = torch.cuda.is_available()
    with tempfile.TemporaryDirectory(prefix="nerqa-train-") as scratch:
        args = training_arguments(config, scratch, len(windows), gpu)
        collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if gpu else None)
        evaluation = DevEvaluation(result, dev, config.early_stopping_patience, progress, math.ceil(config.epochs))
        trainer = BucketTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            data_collator=collator,
            processing_class=tokenizer,
            callbacks=[ProgressReporter(progress), evaluation],
            compute_loss_func=weighted_loss(labels, len(tags)) if config.class_weights else None,
            lengths=[len(w) for w in windows],
            batching=config.batching,
            record=record,
        )
        evaluation.trainer = trainer
        trainer.remove_callback(PrinterCallback)  # the library never prints
        if config.tensorboard and logging_dir is not None:
            _log_to_tensorboard(trainer, logging_dir)
        started = time.perf_counter()
        trainer.train()
        result.train_seconds = time.perf_counter() - started
    _finish(result, model, evaluation.best_weights, config, trainer)
    if record is not None:
        result.dynamics = word_dynamics(windows, record, [len(s) for s in corpus.sentences], len(tags))
    return result


def _to_train(model: torch.nn.Module, config: TrainConfig, shapes: bool) -> torch.nn.Module:
    """The model the Trainer trains: with LoRA adapters (`config.lora`), reading word shapes
    (`shapes`)."""
    if config.lora:
        model = with_lora(model, config.lora_rank)
    return ShapedTokenClassifier(model) if shapes else model


def _finish(
    result: TrainResult, model: torch.nn.Module, best: dict | None, config: TrainConfig, trainer: BucketTrainer
) -> None:
    """The trained model made ready to predict: the `best` epoch's weights back, LoRA merged
    into the weights, eval mode; the `trainer`'s sub-words per second in `result`."""
    if best is not None:
        model.load_state_dict(best)
    if config.lora:
        result.classifier.model = model = merged(model)
    model.eval()
    result.tokens_per_second = trainer.real_subwords / result.train_seconds
    result.padded_tokens_per_second = trainer.padded_subwords / result.train_seconds


def train_to_folder(
    corpus: Corpus,
    config: TrainConfig,
    folder: str | Path,
    *,
    dev: Corpus | None = None,
    progress: ProgressCallback = quiet,
    force: bool = False,
) -> TrainResult | None:
    """Train on `corpus` (`train`) and write the model folder (`save_training`): the model, the
    resolved settings, TensorBoard logs under `runs/`, and `metrics.json` with the training
    sentences, seconds, sub-words per second, parameters trained and in all, the best epoch,
    the history per epoch and, with `dev`, the best model's evaluation on it (`Evaluation.to_dict`).

    Under torchrun or accelerate launch every process trains its share of each batch; rank 0
    alone evaluates, writes the folder and returns the result, the others return None."""
    folder = Path(folder)
    if process_rank() != 0:
        train(corpus, config, dev=dev)
        return None
    result = train(corpus, config, dev=dev, progress=progress, logging_dir=folder / "runs")
    metrics: dict = {
        "train_sentences": len(corpus),
        "train_seconds": round(result.train_seconds, 1),
        "tokens_per_second": round(result.tokens_per_second, 1),
        "trainable_parameters": result.trainable_parameters,
        "total_parameters": result.total_parameters,
        "best_epoch": result.best_epoch,
        "history": result.history,
    }
    if dev is not None:
        metrics["dev"] = evaluate(result.classifier, dev, progress=progress).to_dict()
    save_training(result, folder, config, metrics, force=force)
    return result


def _labels(corpus: Corpus, dev: Corpus | None, tags: Sequence[str] | None) -> tuple[tuple[str, ...], list]:
    """The tag set (`tags`, else the corpus's) and the corpus's tag ids; the dev corpus is checked
    against it too, so a tag it lacks fails before training, not after the first epoch."""
    if len(corpus) == 0:
        raise NerqaError("the training corpus is empty")
    tags = tuple(tags) if tags is not None else corpus.tag_set
    if len(tags) < 2:
        raise NerqaError("the training corpus has no entities: nothing to learn")
    labels = label_ids(corpus, tags, what="training")
    if dev is not None:
        label_ids(dev, tags, what="dev")
    return tags, labels


def _pretrained(encoder: str | Path, tags: Sequence[str]) -> torch.nn.Module:
    """The encoder with a fresh token-classification layer for `tags`."""
    from transformers import AutoModelForTokenClassification

    return load_pretrained(
        AutoModelForTokenClassification,
        encoder,
        "model",
        num_labels=len(tags),
        id2label=dict(enumerate(tags)),
        label2id={t: i for i, t in enumerate(tags)},
        ignore_mismatched_sizes=True,
    )


def with_lora(model: torch.nn.Module, rank: int) -> torch.nn.Module:
    """`model` (a Hugging Face token classifier) with LoRA adapters of `rank` on its attention
    (peft's choice for the architecture, else every linear layer) and its classifier layer
    trained whole; the encoder's own weights are frozen."""
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ModuleNotFoundError:
        raise NerqaError("--lora needs the peft package: pip install 'nerqa[scale]'") from None

    def adapted(targets):
        settings = LoraConfig(
            task_type=TaskType.TOKEN_CLS, r=rank, lora_alpha=2 * rank, lora_dropout=0.1, target_modules=targets
        )
        return get_peft_model(model, settings)

    try:
        return adapted(None)
    except ValueError:  # an architecture peft has no default for
        return adapted("all-linear")


def merged(model: torch.nn.Module) -> torch.nn.Module:
    """The LoRA adapters folded into the weights: a plain Hugging Face model again, which saves
    as a standard folder (`transformers.pipeline` loads it). A `ShapedTokenClassifier`'s inner model."""
    if isinstance(model, ShapedTokenClassifier):
        model.model = model.model.merge_and_unload()
        return model
    return model.merge_and_unload()


def _training_windows(corpus: Corpus, tokenizer, labels, config: TrainConfig, max_length: int, *, shapes: bool):
    """The corpus as training windows and the Trainer's dataset (one dict per window: input
    ids, labels, its index, and with `shapes` its word shapes)."""
    windows = encode(
        tokenizer,
        [s.tokens for s in corpus.sentences],
        labels,
        max_length=max_length,
        stride=config.stride,
        label_all_subwords=config.label_all_subwords,
    )
    dataset = [{"input_ids": w.input_ids, "labels": w.labels, "window": i} for i, w in enumerate(windows)]
    if shapes:
        from nerqa.data.shape import window_shapes, word_shapes

        sentence_shapes = [word_shapes(s.tokens) for s in corpus.sentences]
        for item, window in zip(dataset, windows):
            item["shapes"] = window_shapes(window.owned, len(window), sentence_shapes[window.sentence])
    return windows, dataset


def _add_targets(dataset: list[dict], windows: Sequence, targets: Sequence[np.ndarray | None], n_tags: int) -> None:
    """Each window's `(len(window), n_tags)` float32 targets: one-hot on its labelled positions,
    the sentence's target distribution on the first sub-word of each word it owns."""
    for item, window in zip(dataset, windows):
        array = np.zeros((len(window), n_tags), dtype=np.float32)
        labelled = [p for p, label in enumerate(window.labels) if label >= 0]
        array[labelled, [window.labels[p] for p in labelled]] = 1.0
        sentence = targets[window.sentence]
        if sentence is not None:
            positions = [p for p, _ in window.owned]
            array[positions] = sentence[[w for _, w in window.owned]]
        item["targets"] = array


def word_dynamics(
    windows: Sequence, record: Sequence[Sequence[np.ndarray]], sentence_lengths: Sequence[int], n_tags: int
) -> list[np.ndarray]:
    """Per sentence, `(records, n_words, n_tags)` float16: each word's tag probabilities at its
    first sub-word, once per time training read it (a sentence of several windows keeps as many
    records as its least-read window had, for a fractional last epoch)."""
    per_sentence: dict[int, list[int]] = {}
    for i, window in enumerate(windows):
        per_sentence.setdefault(window.sentence, []).append(i)
    out = []
    for sentence, n_words in enumerate(sentence_lengths):
        chosen = per_sentence.get(sentence, [])
        records = min((len(record[i]) for i in chosen), default=0)
        array = np.zeros((records, n_words, n_tags), dtype=np.float16)
        for i in chosen:
            positions = [p for p, _ in windows[i].owned]
            words = [w for _, w in windows[i].owned]
            for r in range(records):
                array[r, words] = record[i][r][positions]
        out.append(array)
    return out


# What a model folder holds beside the model that nerqa wrote there while training.
TRAINING_FOLDER_NAMES = (TRAIN_LOG, "runs")


def save_training(
    result: TrainResult, folder: str | Path, config: TrainConfig, metrics: dict, *, force: bool = False
) -> None:
    """Write the model folder plus `metrics.json` and the resolved `nerqa_train.yaml`.

    Files go to a temporary sibling folder moved into place (`nerqa.files.atomic_folder`), so a
    failed save leaves no half-written model; a folder holding files nerqa did not write is
    refused unless `force`, and never emptied.

    Args:
        result: what `train` returned.
        folder: the model folder to write.
        config: the settings it was trained with (saved as `nerqa_train.yaml`).
        metrics: what `metrics.json` holds.
        force: write into a folder that holds files nerqa did not write.
    """
    folder = Path(folder)
    with atomic_folder(folder, own=TRAINING_FOLDER_NAMES, force=force) as staging:
        result.classifier.save(staging)
        (staging / CONFIG_FILE).write_text(config.to_yaml(), encoding="utf-8")
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        if (folder / "runs").is_dir():  # TensorBoard logs written during training
            os.replace(folder / "runs", staging / "runs")
        if (folder / TRAIN_LOG).is_file():  # the progress lines written during training
            os.replace(folder / TRAIN_LOG, staging / TRAIN_LOG)
