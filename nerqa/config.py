"""Training settings: one flat dataclass, read from and written to a sectioned YAML file.

The YAML mirrors NeMo's token-classification config in spirit: `model`, `dataset`,
`optim`, `schedule` and `trainer` sections. CLI options override the file; the resolved
settings are saved beside the trained model as `nerqa_train.yaml`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from nerqa.errors import NerqaError

SECTIONS = ("model", "dataset", "optim", "schedule", "trainer")


@dataclass
class TrainConfig:
    """Every training setting. Units: `max_length` and `stride` in sub-words; `warmup_ratio`
    as a share of all steps; `batch_size` in windows (sentences)."""

    # model
    model: str | None = field(default=None, metadata={"section": "model", "help": "local HF model folder; None = the bundled MiniLM"})
    max_length: int = field(default=128, metadata={"section": "model"})
    stride: int = field(default=32, metadata={"section": "model"})
    label_all_subwords: bool = field(default=False, metadata={"section": "model"})
    # dataset
    train: str | None = field(default=None, metadata={"section": "dataset"})
    dev: str | None = field(default=None, metadata={"section": "dataset"})
    format: str | None = field(default=None, metadata={"section": "dataset"})
    merge_types: str | None = field(default=None, metadata={"section": "dataset"})
    # optim
    learning_rate: float = field(default=1e-4, metadata={"section": "optim"})
    weight_decay: float = field(default=0.01, metadata={"section": "optim"})
    optimizer: str = field(default="adamw_torch_fused", metadata={"section": "optim", "help": "a transformers optimizer name"})
    class_weights: bool = field(default=False, metadata={"section": "optim", "help": "weight the loss by inverse tag frequency"})
    # schedule
    warmup_ratio: float = field(default=0.1, metadata={"section": "schedule"})
    scheduler: str = field(default="linear", metadata={"section": "schedule"})
    # trainer
    epochs: float = field(default=5, metadata={"section": "trainer"})
    batch_size: int = field(default=32, metadata={"section": "trainer"})
    seed: int = field(default=42, metadata={"section": "trainer"})
    early_stopping_patience: int | None = field(default=2, metadata={"section": "trainer"})
    batching: str = field(default="bucket", metadata={"section": "trainer", "help": "bucket, group_by_length or random"})
    precision: str = field(default="auto", metadata={"section": "trainer", "help": "auto, fp32, fp16 or bf16"})
    tensorboard: bool = field(default=True, metadata={"section": "trainer"})

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
        return cls(**values)
