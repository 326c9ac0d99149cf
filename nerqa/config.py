"""Training settings: one flat dataclass, read from and written to a sectioned YAML file.

The YAML mirrors NeMo's token-classification config in spirit: `model`, `dataset`,
`optim`, `schedule` and `trainer` sections. CLI options override the file; the resolved
settings are saved beside the trained model as `nerqa_train.yaml`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

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


@dataclass
class TrainConfig:
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
        if self.lora and importlib.util.find_spec("peft") is None:
            raise ConfigError("--lora needs the peft package: pip install 'nerqa[scale]'")
        if self.model is not None and not Path(self.model).is_dir():
            raise ConfigError(f"{self.model}: model folder not found")

    def to_sections(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for f in fields(self):
            out[f.metadata["section"]][f.name] = getattr(self, f.name)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_sections(), sort_keys=False)

    def replace(self, **overrides: Any) -> TrainConfig:
        """A copy with the non-None `overrides` applied."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

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
    return TrainConfig(epochs=FOLD_EPOCHS, learning_rate=FOLD_LEARNING_RATE, tensorboard=False).replace(**changes)


# What each fold mode does, in one line (`nerqa audit --help` and the audit page show these).
MODES: dict[str, str] = {
    "both": "the mean of full and fast (the default)",
    "full": "fine-tune the whole encoder in every fold",
    "fast": "a BiLSTM head per fold over one frozen encoder pass",
    "top": "fine-tune the top layers per fold over lower layers run once",
    "top+fast": "the mean of top and fast, over one frozen pass",
    "once+fast": "fast per fold; training dynamics from one fine-tuning on all",
}
assert tuple(MODES) == get_args(Mode), "MODES must describe every Mode"


@dataclass(frozen=True)
class AuditSettings:
    """Every setting of an audit, checked when made; the one place their defaults live.

    - `k`: cross-validation folds, grouped by document;
    - `mode`: how each fold is trained (`MODES`);
    - `level`: what is scored, entity `types` (B/I merged) or the `iob` tags;
    - `repeats`: cross-validations over other fold splits and seeds whose pred_probs are
      averaged (repeat r trains with seed `training.seed + r`);
    - `neighbours`: also look for the errors a corpus repeats (`nerqa.auditing.neighbours`);
    - `training`: each fold's training settings (`fold_config()`).
    """

    k: int = 5
    mode: Mode = "both"
    level: Level = "types"
    repeats: int = 1
    neighbours: bool = True
    training: TrainConfig = field(default_factory=fold_config)

    def __post_init__(self) -> None:
        check_range("folds (-k)", self.k, low=2, integer=True)
        check_range("repeats", self.repeats, low=1, integer=True)
        check_choice("mode", self.mode, Mode)
        check_choice("level", self.level, Level)

    def replace(self, **overrides: Any) -> AuditSettings:
        """A copy with the non-None `overrides` applied (checked again)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """As `summary.json` records them: the audit's own settings, then the training sections."""
        return {
            "k": self.k,
            "mode": self.mode,
            "level": self.level,
            "repeats": self.repeats,
            "neighbours": self.neighbours,
            **self.training.to_sections(),
        }
