"""Fine-tune a transformer token classifier with the transformers `Trainer`.

`train()` wires three module-level pieces: `BucketTrainer` (nerqa's batching: windows of
near-equal length per batch, batches shuffled each epoch; it also sums the loss of each
epoch), `DevEvaluation` (entity F1 on a dev corpus after each epoch, best weights kept,
early stopping) and `ProgressReporter` (steps and epochs to a `ProgressCallback`).
`save_training` writes the model folder.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainerCallback

from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus, label_ids
from nerqa.errors import NerqaError
from nerqa.files import atomic_folder
from nerqa.models.classifier import Classifier, ShapedTokenClassifier, pad_shapes
from nerqa.models.loading import load_pretrained, load_tokenizer, window_limit
from nerqa.models.predict import evaluate
from nerqa.models.runtime import model_path, native_bf16, process_rank, refresh_threads, world_size
from nerqa.models.windows import IGNORE, encode, length_batches
from nerqa.progress import ProgressCallback, quiet

CONFIG_FILE = "nerqa_train.yaml"
METRICS_FILE = "metrics.json"
TRAIN_LOG = "train.log"


@dataclass
class TrainResult:
    """The trained classifier, one record per epoch (`epoch`, mean training `loss`, and the dev
    scores with a dev corpus), the best epoch (by dev F1), wall time in seconds, and throughput
    in sub-words per second (`tokens_per_second` counts real, non-pad sub-words)."""

    classifier: Classifier
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    train_seconds: float = 0.0
    tokens_per_second: float = 0.0
    padded_tokens_per_second: float = 0.0
    # With `train(dynamics=True)`: per training sentence, `(epochs, n_words, n_tags)` float16,
    # the tag probabilities the model gave each word in the step that trained on it.
    dynamics: list[np.ndarray] | None = None
    # Parameters training updated, and all of the model's (LoRA trains a small share).
    trainable_parameters: int = 0
    total_parameters: int = 0


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batches of windows of near-equal length, in random order each epoch.

    Windows are shuffled, sorted by length (ties stay shuffled), cut into batches, and the
    batches are shuffled: padding nearly vanishes while every epoch sees other batches.

    Data-parallel (`world` > 1 processes, e.g. under torchrun): every process draws the same
    batches from the same seed, and process `rank` takes its share of each, `batch[rank::world]`
    (a batch too small to share joins the one before it). So each window is read by exactly
    one process per epoch, every process runs as many steps, and a step's windows across the
    processes are the batch one process would have read: `batch_size` stays the global batch.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, *, rank: int = 0, world: int = 1) -> None:
        if len(lengths) < world:
            raise NerqaError(f"{len(lengths)} training windows cannot be shared by {world} processes")
        if batch_size < world:
            raise NerqaError(f"a batch of {batch_size} windows cannot be shared by {world} processes")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.rng = random.Random(seed)
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        batches = math.ceil(len(self.lengths) / self.batch_size)
        return batches - (1 if batches > 1 and 0 < len(self.lengths) % self.batch_size < self.world else 0)

    def __iter__(self):
        indices = list(range(len(self.lengths)))
        self.rng.shuffle(indices)
        batches = length_batches(indices, self.lengths.__getitem__, self.batch_size)
        if len(batches) > 1 and len(batches[-1]) < self.world:
            batches[-2].extend(batches.pop())
        self.rng.shuffle(batches)
        for batch in batches:
            yield batch[self.rank :: self.world]


class BucketTrainer(Trainer):
    """The Trainer with nerqa's samplers (`batching`: `bucket`, `group_by_length` or
    `random`), counting real and padded sub-words, and summing each epoch's loss."""

    def __init__(
        self, *args, lengths: Sequence[int], batching: str, record: list[list[np.ndarray]] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lengths = list(lengths)
        self.batching = batching
        # Per window, the probabilities of each step that trained on it (`record_dynamics`).
        self.record = record
        self.real_subwords = 0
        self.padded_subwords = 0
        # Kept as a tensor: reading it every step would synchronise a GPU every step.
        self.epoch_loss = torch.zeros(())
        self.epoch_batches = 0

    def get_train_dataloader(self):
        size = self.args.per_device_train_batch_size
        if self.batching == "bucket":
            sampler = BucketBatchSampler(
                self.lengths, size, self.args.seed, rank=self.args.process_index, world=self.args.world_size
            )
            loader = torch.utils.data.DataLoader(
                self.train_dataset,
                batch_sampler=sampler,
                collate_fn=self._count,
                pin_memory=self.args.dataloader_pin_memory,
            )
            # The sampler shares the batches among the processes itself (accelerate would shard
            # them again); the Trainer moves each batch to the device.
            return loader if self.args.world_size > 1 else self.accelerator.prepare(loader)
        from transformers.trainer_pt_utils import LengthGroupedSampler

        generator = torch.Generator().manual_seed(self.args.seed)
        sampler = (
            LengthGroupedSampler(size, lengths=self.lengths, generator=generator)
            if self.batching == "group_by_length"
            else torch.utils.data.RandomSampler(self.train_dataset, generator=generator)
        )
        options = {"sampler": sampler, "batch_size": size}
        loader = torch.utils.data.DataLoader(
            self.train_dataset, collate_fn=self._count, pin_memory=self.args.dataloader_pin_memory, **options
        )
        return self.accelerator.prepare(loader)

    def _count(self, features):
        # The collator pads sub-word lists only: the window numbers and word shapes go around it.
        batch = self.data_collator([{k: v for k, v in f.items() if k not in ("window", "shapes")} for f in features])
        if self.record is not None:
            batch["window"] = torch.tensor([f["window"] for f in features])
        if "shapes" in features[0]:
            batch["shapes"] = pad_shapes([f["shapes"] for f in features], batch["input_ids"].shape[1])
        self.real_subwords += (
            int(batch["attention_mask"].sum())
            if "attention_mask" in batch
            else sum(len(f["input_ids"]) for f in features)
        )
        self.padded_subwords += int(batch["input_ids"].numel())
        return batch

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        windows = inputs.pop("window", None)
        result = super().compute_loss(model, inputs, return_outputs=windows is not None or return_outputs, **kwargs)
        if windows is not None:
            loss, outputs = result
            self.record_dynamics(
                windows, outputs["logits"] if isinstance(outputs, dict) else outputs.logits, inputs["attention_mask"]
            )
            result = (loss, outputs) if return_outputs else loss
        loss = result[0] if isinstance(result, tuple) else result
        self.epoch_loss = self.epoch_loss.to(loss.device) + loss.detach().float()
        self.epoch_batches += 1
        return result

    def record_dynamics(self, windows: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor) -> None:
        """Keep the batch's tag probabilities `(batch, positions, n_tags)` per window: the
        model's reading of each training sentence at this point of training, for free (the
        logits are there already; one softmax and a copy to the host per step)."""
        with torch.no_grad():
            probs = torch.softmax(logits.detach().float(), dim=-1).to(torch.float16).cpu().numpy()
        lengths = mask.sum(dim=1).tolist()
        for row, window in enumerate(windows.tolist()):
            self.record[window].append(probs[row, : lengths[row]])  # type: ignore[index]

    def take_epoch_loss(self) -> float | None:
        """The mean loss of the batches since the last call (None when there were none)."""
        if not self.epoch_batches:
            return None
        mean = float(self.epoch_loss) / self.epoch_batches
        self.epoch_loss, self.epoch_batches = torch.zeros(()), 0
        return mean


class DevEvaluation(TrainerCallback):
    """After each epoch: the epoch's mean loss, entity F1 on `dev` (if any), the best epoch's
    weights kept in memory, and early stopping after `patience` epochs without gain. Before
    each epoch: torch's threads re-read from the free cores (`refresh_threads`)."""

    def __init__(
        self,
        result: TrainResult,
        dev: Corpus | None,
        patience: int | None,
        progress: ProgressCallback,
        total_epochs: int,
    ) -> None:
        self.result = result
        self.dev = dev
        self.patience = patience
        self.progress = progress
        self.total_epochs = total_epochs
        self.trainer: BucketTrainer | None = None
        self.best_f1 = -1.0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0

    def on_epoch_begin(self, args, state, control, **kwargs):
        refresh_threads()  # other work may have started or ended since the last epoch

    def on_epoch_end(self, args, state, control, **kwargs):
        epoch = round(state.epoch or 0)
        info: dict = {"epoch": epoch}
        loss = self.trainer.take_epoch_loss() if self.trainer is not None else None
        if loss is not None:
            info["loss"] = round(loss, 5)
        if self.dev is not None:
            # Data-parallel: rank 0 evaluates and tells the others; each keeps the best weights
            # itself (every process holds the same weights), so all stop at the same epoch.
            scores = None
            if args.process_index == 0:
                evaluation = evaluate(self.result.classifier, self.dev, progress=self.progress)
                scores = (evaluation.micro.f1, evaluation.micro.precision, evaluation.micro.recall)
            if args.world_size > 1:
                shared = [scores]
                torch.distributed.broadcast_object_list(shared, src=0)
                scores = shared[0]
            f1, precision, recall = scores
            info.update(dev_f1=f1, dev_precision=precision, dev_recall=recall)
            if f1 > self.best_f1:
                self.best_f1, self.bad_epochs = f1, 0
                self.best_weights = copy.deepcopy(
                    {k: v.detach().cpu() for k, v in self.result.classifier.model.state_dict().items()}
                )
                self.result.best_epoch = epoch
            else:
                self.bad_epochs += 1
                if self.patience is not None and self.bad_epochs >= self.patience:
                    control.should_training_stop = True
                    info["stopped_early"] = True
        self.result.history.append(info)
        self.progress("epoch", epoch, self.total_epochs, info)


class ProgressReporter(TrainerCallback):
    """Optimizer steps to the progress callback (task `train`)."""

    def __init__(self, progress: ProgressCallback) -> None:
        self.progress = progress

    def on_step_end(self, args, state, control, **kwargs):
        self.progress("train", state.global_step, state.max_steps, {"epoch": state.epoch})


def mixed_precision(config: TrainConfig) -> dict[str, bool]:
    """The Trainer's `bf16`/`fp16` flags for `config.precision` on this machine."""
    if config.precision == "auto":
        if torch.cuda.is_available():
            return {"bf16": torch.cuda.is_bf16_supported(), "fp16": not torch.cuda.is_bf16_supported()}
        # bf16 on a CPU only where it is native: emulated, it is slower than fp32.
        return {"bf16": True} if native_bf16() else {}
    return {"fp16": config.precision == "fp16", "bf16": config.precision == "bf16"}


def weighted_loss(labels: list[list[int]], n_tags: int):
    """Cross-entropy weighted by inverse tag frequency (sqrt-damped), for rare types; in the
    form the Trainer's `compute_loss_func` takes."""
    counts = np.bincount([t for sentence in labels for t in sentence], minlength=n_tags).astype(np.float64) + 1.0
    weights = torch.tensor(np.sqrt(counts.sum() / counts) / np.sqrt(counts.sum() / counts).mean(), dtype=torch.float32)

    def loss(outputs, targets, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        function = torch.nn.CrossEntropyLoss(weight=weights.to(logits.device), ignore_index=IGNORE)
        return function(logits.view(-1, logits.shape[-1]).float(), targets.view(-1))

    return loss


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def train(
    corpus: Corpus,
    config: TrainConfig,
    *,
    dev: Corpus | None = None,
    tags: Sequence[str] | None = None,
    progress: ProgressCallback = quiet,
    logging_dir: str | Path | None = None,
    dynamics: bool = False,
    shapes: bool = False,
) -> TrainResult:
    """Fine-tune `config.model` (default: bundled MiniLM) on `corpus`.

    With `dev`, entity F1 on it is measured after every epoch; the best epoch's weights are
    kept and training stops after `early_stopping_patience` epochs without improvement.
    `tags` fixes the label set (default: the corpus's), e.g. so every cross-validation fold
    shares one. With `dynamics`, `TrainResult.dynamics` keeps the training dynamics: what the
    model read in each training sentence each time it trained on it. With `shapes`, the model
    also reads word shapes (`nerqa.models.classifier.ShapedTokenClassifier`; it cannot be saved as a Hugging
    Face folder).
    """
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification, set_seed
    from transformers.trainer_callback import PrinterCallback

    if len(corpus) == 0:
        raise NerqaError("the training corpus is empty")
    if process_rank() != 0:
        progress = quiet  # data-parallel: rank 0 reports for all
    tags = tuple(tags) if tags is not None else corpus.tag_set
    if len(tags) < 2:
        raise NerqaError("the training corpus has no entities: nothing to learn")
    encoder = model_path(config.model)
    tokenizer = load_tokenizer(encoder)
    labels = label_ids(corpus, tags, what="training")
    if dev is not None:
        label_ids(dev, tags, what="dev")  # fail before training, not after the first epoch
    set_seed(config.seed)
    model = load_pretrained(
        AutoModelForTokenClassification,
        encoder,
        "model",
        num_labels=len(tags),
        id2label=dict(enumerate(tags)),
        label2id={t: i for i, t in enumerate(tags)},
        ignore_mismatched_sizes=True,
    )
    max_length = window_limit(model, config.max_length)
    windows, dataset = _training_windows(corpus, tokenizer, labels, config, max_length, shapes=shapes)
    total_parameters = sum(p.numel() for p in model.parameters())
    if config.lora:
        model = with_lora(model, config.lora_rank)
    if shapes:
        model = ShapedTokenClassifier(model)
    record: list[list[np.ndarray]] | None = [[] for _ in windows] if dynamics else None
    result = TrainResult(Classifier(model, tokenizer, tags, max_length, config.stride))
    result.trainable_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result.total_parameters = total_parameters  # the model's own, without adapters or shape projections
    gpu = torch.cuda.is_available()
    with tempfile.TemporaryDirectory(prefix="nerqa-train-") as scratch:
        args = _training_arguments(config, scratch, len(windows), gpu)
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
        if config.tensorboard and logging_dir is not None and _has_tensorboard():
            from torch.utils.tensorboard import SummaryWriter
            from transformers.integrations import TensorBoardCallback

            trainer.add_callback(TensorBoardCallback(SummaryWriter(log_dir=str(logging_dir))))
        started = time.perf_counter()
        trainer.train()
        result.train_seconds = time.perf_counter() - started
    if evaluation.best_weights is not None:
        model.load_state_dict(evaluation.best_weights)
    if config.lora:
        result.classifier.model = model = merged(model)
    model.eval()
    result.tokens_per_second = trainer.real_subwords / result.train_seconds
    result.padded_tokens_per_second = trainer.padded_subwords / result.train_seconds
    if record is not None:
        result.dynamics = word_dynamics(windows, record, [len(s) for s in corpus.sentences], len(tags))
    return result


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


def _training_arguments(config: TrainConfig, scratch: str, n_windows: int, gpu: bool):
    """The Trainer's arguments for `config`: nerqa evaluates, saves and reports itself."""
    from transformers import TrainingArguments

    # Warmup as a whole number of steps, computed here: transformers versions disagree on
    # whether a ratio goes in `warmup_ratio` or as a fraction in `warmup_steps`.
    steps_per_epoch = math.ceil(n_windows / config.batch_size)
    warmup_steps = math.ceil(config.warmup_ratio * steps_per_epoch * config.epochs)
    # `batch_size` is the global batch. The bucket sampler shares each batch among the
    # processes itself; the others' batches are per process, so they get their share here.
    per_process = config.batch_size if config.batching == "bucket" else max(1, config.batch_size // world_size())
    return TrainingArguments(
        output_dir=scratch,
        per_device_train_batch_size=per_process,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        warmup_steps=warmup_steps,
        lr_scheduler_type=config.scheduler,
        seed=config.seed,
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=50,
        report_to="none",
        optim=config.optimizer,
        disable_tqdm=True,
        dataloader_pin_memory=gpu,
        use_cpu=not gpu,
        **mixed_precision(config),
    )


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
