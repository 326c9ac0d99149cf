"""Checked settings: training, the audit, and how the audit scores.

Checked settings: training (`TrainConfig`, read from and written to a sectioned YAML file),
the audit (`AuditSettings`) and how it scores (`ScoringSettings`).

The YAML mirrors NeMo's token-classification config in spirit: `model`, `dataset`,
`optim`, `schedule` and `trainer` sections. CLI options override the file; the resolved
settings are saved beside the trained model as `nerqa_train.yaml`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Self, get_args

import yaml

from nerqa.errors import ConfigError, NerqaError

SECTIONS = ("model", "dataset", "optim", "schedule", "trainer")

Precision = Literal["auto", "fp32", "fp16", "bf16"]
Batching = Literal["bucket", "group_by_length", "random"]
Mode = Literal["both", "full", "fast", "top", "top+fast", "once+fast"]
Level = Literal["types", "iob"]
Scheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"
]

# The shortest window that leaves room for sub-words next to [CLS]/[SEP]-style specials.
MIN_MAX_LENGTH = 8


def check_choice(name: str, value: Any, choices: Any) -> None:
    """Raise `ConfigError` unless `value` is one of `choices` (a `Literal` type or a tuple)."""
    allowed = choices if isinstance(choices, tuple) else get_args(choices)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def check_range(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
) -> None:
    """Raise `ConfigError` unless `value` is a number in the range (or an integer with `integer`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{name} must be {'a whole number' if integer else 'a number'}, not {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ConfigError(f"{name} must be {'above' if low_open else 'at least'} {low}, not {value}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be at most {high}, not {value}")


class _Settings:
    """What every settings dataclass here offers: copies with some fields changed, checked again
    (`__post_init__` runs on the copy)."""

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` applied as given (None included); e.g.
        `AuditSettings().replace(scoring=ScoringSettings(model_weight=2.0))`."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def with_options(self, **options: Any) -> Self:
        """A copy with the `options` that were given applied: None means "not given" (a
        command-line option left out) and keeps the setting."""
        return self.replace(**{name: value for name, value in options.items() if value is not None})


@dataclass
class TrainConfig(_Settings):
    """Every training setting. Units: `max_length` and `stride` in sub-words; `warmup_ratio`
    as a share of all steps; `batch_size` in windows (sentences)."""

    # model
    model: str | None = field(
        default=None, metadata={"section": "model", "help": "local HF model folder; None = the bundled MiniLM"}
    )
    max_length: int = field(default=128, metadata={"section": "model"})
    stride: int = field(default=32, metadata={"section": "model"})
    label_all_subwords: bool = field(default=False, metadata={"section": "model"})
    lora: bool = field(
        default=False,
        metadata={"section": "model", "help": "train LoRA adapters (peft) instead of every weight; merged on save"},
    )
    lora_rank: int = field(default=16, metadata={"section": "model", "help": "the LoRA adapters' rank"})
    # dataset
    train: str | None = field(default=None, metadata={"section": "dataset"})
    dev: str | None = field(default=None, metadata={"section": "dataset"})
    format: str | None = field(default=None, metadata={"section": "dataset"})
    merge_types: str | None = field(default=None, metadata={"section": "dataset"})
    # optim
    learning_rate: float = field(default=1e-4, metadata={"section": "optim"})
    weight_decay: float = field(default=0.01, metadata={"section": "optim"})
    optimizer: str = field(
        default="adamw_torch_fused", metadata={"section": "optim", "help": "a transformers optimizer name"}
    )
    class_weights: bool = field(
        default=False, metadata={"section": "optim", "help": "weight the loss by inverse tag frequency"}
    )
    # schedule
    warmup_ratio: float = field(default=0.1, metadata={"section": "schedule"})
    scheduler: str = field(default="linear", metadata={"section": "schedule"})
    # trainer
    epochs: float = field(default=5, metadata={"section": "trainer"})
    batch_size: int = field(default=32, metadata={"section": "trainer"})
    seed: int = field(default=42, metadata={"section": "trainer"})
    early_stopping_patience: int | None = field(default=2, metadata={"section": "trainer"})
    batching: str = field(
        default="bucket", metadata={"section": "trainer", "help": "bucket, group_by_length or random"}
    )
    precision: str = field(default="auto", metadata={"section": "trainer", "help": "auto, fp32, fp16 or bf16"})
    tensorboard: bool = field(default=True, metadata={"section": "trainer"})

    def __post_init__(self) -> None:
        """Check every setting now, so a bad one fails before any corpus is read or model loaded."""
        check_choice("precision", self.precision, Precision)
        check_choice("batching", self.batching, Batching)
        check_choice("scheduler", self.scheduler, Scheduler)
        check_range("max_length", self.max_length, low=MIN_MAX_LENGTH, integer=True)
        check_range("stride", self.stride, low=0, high=self.max_length // 2, integer=True)
        check_range("learning_rate", self.learning_rate, low=0, high=1, low_open=True)
        check_range("weight_decay", self.weight_decay, low=0)
        check_range("warmup_ratio", self.warmup_ratio, low=0, high=1)
        check_range("epochs", self.epochs, low=0, low_open=True)
        check_range("batch_size", self.batch_size, low=1, integer=True)
        check_range("seed", self.seed, low=0, integer=True)
        check_range("lora_rank", self.lora_rank, low=1, integer=True)
        if self.early_stopping_patience is not None:
            check_range("early_stopping_patience", self.early_stopping_patience, low=1, integer=True)
        # Only values here: whether the model folder exists, and whether peft is installed for
        # LoRA, are checked once where they are used (`nerqa.models.loading`, `nerqa.models.training`).

    def to_sections(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for f in fields(self):
            out[f.metadata["section"]][f.name] = getattr(self, f.name)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_sections(), sort_keys=False)

    def cache_settings(self) -> dict[str, Any]:
        """The settings that change what a trained model predicts (not file names or logging)."""
        skip = {"train", "dev", "format", "tensorboard"} | (set() if self.lora else {"lora", "lora_rank"})
        # Without LoRA its settings are left out, so folds cached before it existed stay valid.
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        """Read a sectioned YAML file; unknown keys and sections are errors naming the file."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise NerqaError(f"{path}: no such config file") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            raise NerqaError(f"{path}{where}: invalid YAML: {getattr(error, 'problem', error)}") from None
        if not isinstance(data, dict):
            raise NerqaError(f"{path}: expected sections {', '.join(SECTIONS)}")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for section, settings in data.items():
            if section not in SECTIONS:
                raise NerqaError(f"{path}: unknown section {section!r}; sections are {', '.join(SECTIONS)}")
            for key, value in (settings or {}).items():
                if key not in known or known[key].metadata["section"] != section:
                    raise NerqaError(f"{path}: unknown setting {section}.{key}")
                values[key] = value
        try:
            return cls(**values)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None


# The audit's fold training: the same errors found as at 6 epochs in 60 % of the time
# (docs/benchmarks.md, "Why the defaults are what they are").
FOLD_EPOCHS = 3.0
FOLD_LEARNING_RATE = 3e-4


def fold_config(**changes: Any) -> TrainConfig:
    """The audit's default fold training settings; `changes` that are None keep the default."""
    return TrainConfig(epochs=FOLD_EPOCHS, learning_rate=FOLD_LEARNING_RATE, tensorboard=False).with_options(**changes)


# What each fold mode does, in one line (`nerqa audit --help` and the audit page show these).
MODES: dict[str, str] = {
    "both": "the mean of full and fast (the default)",
    "full": "fine-tune the whole encoder in every fold",
    "fast": "a BiLSTM head per fold over one frozen encoder pass",
    "top": "fine-tune the top layers per fold over lower layers run once",
    "top+fast": "the mean of top and fast, over one frozen pass",
    "once+fast": "fast per fold; training dynamics from one fine-tuning on all",
}


@dataclass(frozen=True)
class ScoringSettings(_Settings):
    """How the audit turns its evidence into scores: every weight, floor and threshold of an
    issue's score, a sentence's score and a guideline question's, in one place
    (`nerqa.auditing.scoring` reads it). Each field says what it does and which benchmark chose
    it (figures on docs/benchmarks.md). Sweep a field with
    `AuditSettings().replace(scoring=ScoringSettings(model_weight=2.0))`.
    """

    # The share of the training-time probabilities in the probabilities the scores read (beside
    # the out-of-sample ones, `with_dynamics`): 0.25 gained on BC5CDR and stayed within 0.01 on
    # NCBI, 0.5 hurt NCBI (bench/noise.py). 0 turns the training dynamics off in the scores.
    dynamics_weight: float = 0.25
    # How many of the form's other occurrences the model's probability counts as in a span
    # issue's score (`weigh_by_corpus`): the weighting adds 0.04-0.07 AUPRC over the model alone
    # on injected errors, and 3 was level with 1 (bench/scoring.py), so it stays at 1.
    model_weight: float = 1.0
    # A neighbour issue scores `1 - neighbour_weight * share`, so at most 0.6 with the share
    # floor below: the vote alone never outranks a span issue the model is sure of; 1.0 cost
    # crowdbest 0.03 AUPRC (bench/real_noise.py).
    neighbour_weight: float = 0.5
    # The smallest share of a mention's neighbours, of one other type, that raises a neighbour
    # issue: chosen with `neighbour_weight` on bench/real_noise.py's four sets.
    neighbour_min_share: float = 0.8
    # The neighbours that vote on each mention, and the words each side of a mention that make
    # its context vector (bench/neighbours.py, bench/real_noise.py).
    neighbour_count: int = 10
    neighbour_context: int = 3
    # Without training dynamics, cleanlab's sentence score only orders the sentences whose span
    # issues tie (most often: those with none); bench/scoring.py's `before (issue 28)` variant.
    tie_break: float = 1e-3
    # cleanlab's training-time sentence score enters a sentence's score as
    # sqrt(max(score, floor)): below the floor a sentence is as doubted as it gets; the root and
    # the floor keep injected errors found as before (bench/real_noise.py, bench/noise.py).
    training_floor: float = 0.05
    # A type is rare (every entity of it a `sparse` issue) with fewer entities than this, or
    # less than `rare_share` of all entities: the definition `nerqa stats` reports rare types by
    # (`nerqa.data.stats.corpus_stats`), not tuned on a benchmark.
    rare_count: int = 50
    rare_share: float = 0.02
    # A form seen once is a `sparse` issue when the model gives its type less than this (even
    # odds; not tuned: `sparse` issues rank after the span issues on the same words).
    one_off_doubt: float = 0.5
    # Guideline questions: mentions per cluster on average when a type is clustered by context,
    # the smallest cluster that makes a question, and how much more often (a share of the
    # neighbours) its neighbours carry the other type than the type's mentions do overall:
    # below it a cluster is only a topic (CoNLL dev's top 20 questions lean 0.10-0.24 beyond).
    cluster_size: int = 8
    min_cluster: int = 3
    min_excess: float = 0.08

    def __post_init__(self) -> None:
        for name in ("dynamics_weight", "neighbour_min_share", "tie_break", "rare_share", "one_off_doubt"):
            check_range(name, getattr(self, name), low=0, high=1)
        for name in ("model_weight", "training_floor"):
            check_range(name, getattr(self, name), low=0, low_open=True)
        check_range("neighbour_weight", self.neighbour_weight, low=0)
        check_range("min_excess", self.min_excess, low=0, high=1)
        check_range("neighbour_context", self.neighbour_context, low=0, integer=True)
        for name in ("neighbour_count", "cluster_size", "min_cluster"):
            check_range(name, getattr(self, name), low=1, integer=True)
        check_range("rare_count", self.rare_count, low=0, integer=True)

    def to_dict(self) -> dict[str, Any]:
        """Every field by name, as `summary.json` records them."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AuditSettings(_Settings):
    """Every setting of an audit, checked when made; the one place their defaults live.

    - `k`: cross-validation folds, grouped by document;
    - `mode`: how each fold is trained (`MODES`);
    - `level`: what is scored, entity `types` (B/I merged) or the `iob` tags;
    - `repeats`: cross-validations over other fold splits and seeds whose pred_probs are
      averaged (repeat r trains with seed `training.seed + r`);
    - `neighbours`: also look for the errors a corpus repeats (`nerqa.auditing.neighbours`);
    - `training`: each fold's training settings (`fold_config()`);
    - `scoring`: how the evidence becomes scores (`ScoringSettings`).
    """

    k: int = 5
    mode: Mode = "both"
    level: Level = "types"
    repeats: int = 1
    neighbours: bool = True
    training: TrainConfig = field(default_factory=fold_config)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)

    def __post_init__(self) -> None:
        check_range("folds (-k)", self.k, low=2, integer=True)
        check_range("repeats", self.repeats, low=1, integer=True)
        check_choice("mode", self.mode, Mode)
        check_choice("level", self.level, Level)

    def to_dict(self) -> dict[str, Any]:
        """As `summary.json` records them: the audit's own settings, then the training sections."""
        return {
            "k": self.k,
            "mode": self.mode,
            "level": self.level,
            "repeats": self.repeats,
            "neighbours": self.neighbours,
            **self.training.to_sections(),
            "scoring": self.scoring.to_dict(),
        }
