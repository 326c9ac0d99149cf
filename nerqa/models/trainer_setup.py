"""The transformers `Trainer` as nerqa sets it up.

The pieces `nerqa.models.training.train` wires into the transformers `Trainer`:
`BucketTrainer` (nerqa's batching: windows of near-equal length per batch, batches shuffled
each epoch; it also sums the loss of each epoch), `DevEvaluation` (entity F1 on a dev corpus
after each epoch, best weights kept, early stopping), `ProgressReporter` (steps and epochs to
a `ProgressCallback`), and the Trainer's arguments and precision for a `TrainConfig`."""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import Trainer, TrainerCallback

from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus
from nerqa.errors import NerqaError
from nerqa.models.classifier import Classifier, pad_shapes
from nerqa.models.predict import evaluate
from nerqa.models.runtime import native_bf16, refresh_threads, world_size
from nerqa.models.windows import IGNORE, length_batches
from nerqa.progress import ProgressCallback


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
    # With `TrainingExtras(dynamics=True)`: per training sentence, `(epochs, n_words, n_tags)` float16,
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
        extra = ("window", "shapes", "targets")
        batch = self.data_collator([{k: v for k, v in f.items() if k not in extra} for f in features])
        if "targets" in features[0]:
            batch["targets"] = pad_shapes([f["targets"] for f in features], batch["input_ids"].shape[1])
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
        targets = inputs.pop("targets", None)
        if targets is not None:
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = soft_loss(outputs["logits"] if isinstance(outputs, dict) else outputs.logits, targets, labels)
            inputs["labels"] = labels
            result = (loss, outputs) if windows is not None or return_outputs else loss
        else:
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


def soft_loss(logits: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against target distributions: `logits` and `targets` `(batch, positions,
    n_tags)`, averaged over the positions whose `labels` are not `IGNORE` (a one-hot target
    gives the usual cross-entropy)."""
    mask = labels != IGNORE
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    per_position = -(targets.to(log_probs.device) * log_probs).sum(dim=-1)
    return (per_position * mask).sum() / mask.sum().clamp(min=1)


def training_arguments(config: TrainConfig, scratch: str, n_windows: int, gpu: bool):
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
