"""The training options `train` and `audit` share.

The training options `train` and `audit` share (`--model`, `--config`, `--epochs`, `--lr`,
`--max-length`, `--seed`, `--lora/--no-lora`), handed to each as one `training: TrainingOptions`.
Their help states the defaults of the settings they override, read from those settings."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nerqa.config import TrainConfig
from nerqa.errors import ConfigError
from nerqa_cli.groups import option_group

FLAGS = {
    "model": "--model",
    "config": "--config",
    "epochs": "--epochs",
    "lr": "--lr",
    "max_length": "--max-length",
    "seed": "--seed",
    "lora": "--lora",
}


@dataclass(frozen=True)
class TrainingOptions:
    """The shared training options as given (None: not given)."""

    model: Optional[Path] = None
    config: Optional[Path] = None
    epochs: Optional[float] = None
    lr: Optional[float] = None
    max_length: Optional[int] = None
    seed: Optional[int] = None
    lora: Optional[bool] = None

    def given(self) -> list[str]:
        """The flags given on the command line, as written there."""
        return [FLAGS[f.name] for f in fields(self) if getattr(self, f.name) is not None]

    def settings(self, base: TrainConfig, **more: Any) -> TrainConfig:
        """`base` (or the `--config` file, which replaces it whole), with the options given and
        `more` (None: keep) applied; every setting is checked here."""
        settings = TrainConfig.from_yaml(self.config) if self.config else base
        settings = settings.with_options(
            model=str(self.model) if self.model else None,
            epochs=self.epochs,
            learning_rate=self.lr,
            max_length=self.max_length,
            seed=self.seed,
            lora=self.lora,
            **more,
        )
        check_usable(settings)
        return settings


def check_usable(settings: TrainConfig) -> None:
    """Raise `ConfigError` when the settings name a model folder that is not there, or ask for
    LoRA without peft installed: checked here, once, before a command reads its corpus (the
    settings object checks only values)."""
    if settings.model is not None and not Path(settings.model).is_dir():
        raise ConfigError(f"{settings.model}: model folder not found")
    if settings.lora and importlib.util.find_spec("peft") is None:
        raise ConfigError("--lora needs the peft package: pip install 'nerqa[scale]'")


def with_training(defaults: Callable[[], TrainConfig], what: str) -> Callable:
    """A decorator giving a command the shared training options, their help naming the defaults
    of `defaults()`; `what` says whose epochs they are ("of training", "per fold")."""
    base = defaults()
    options = [
        (
            "model",
            Annotated[
                Optional[Path],
                typer.Option(help="Local Hugging Face encoder folder to fine-tune [default: the bundled MiniLM]."),
            ],
            None,
        ),
        (
            "config",
            Annotated[
                Optional[Path],
                typer.Option(help="YAML training settings (model/dataset/optim/schedule/trainer sections)."),
            ],
            None,
        ),
        (
            "epochs",
            Annotated[Optional[float], typer.Option(help=f"Epochs {what} [default: {base.epochs:g}].")],
            None,
        ),
        (
            "lr",
            Annotated[
                Optional[float], typer.Option("--lr", help=f"Peak learning rate [default: {base.learning_rate:g}].")
            ],
            None,
        ),
        (
            "max_length",
            Annotated[
                Optional[int],
                typer.Option(help=f"Sub-words per window [default: {base.max_length}]; longer sentences are windowed."),
            ],
            None,
        ),
        (
            "seed",
            Annotated[Optional[int], typer.Option(help=f"Random seed: same seed, same model [default: {base.seed}].")],
            None,
        ),
        (
            "lora",
            Annotated[
                Optional[bool],
                typer.Option(
                    "--lora/--no-lora",
                    help="Train LoRA adapters (peft) on the attention and the classifier layer, not every weight; "
                    "merged on save, so the folder loads as any Hugging Face model. Takes a higher --lr (e.g. 1e-3).",
                ),
            ],
            None,
        ),
    ]
    return option_group("training", options, lambda values: TrainingOptions(**values))
