"""`nerqa train`: fine-tune a token classifier and save a Hugging Face model folder.

`nerqa train`: fine-tune a token classifier and save a standard HF model folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, get_args

import typer
from rich.table import Table

from nerqa.config import Batching, Precision, TrainConfig
from nerqa.errors import NerqaError
from nerqa.files import check_output_folder, removed_on_failure
from nerqa_cli.console import console, counted, next_step, prepare_models, user_errors
from nerqa_cli.progress import progress_display
from nerqa_cli.reading import CorpusReader, ForceOpt, with_reader
from nerqa_cli.training_options import TrainingOptions, with_training

if TYPE_CHECKING:
    from nerqa.data.corpus import Corpus
    from nerqa.models.training import TrainResult

DEFAULTS = TrainConfig()


@with_reader
@with_training(TrainConfig, "of training")
def train_cli(
    corpus: Annotated[Optional[Path], typer.Argument(help="Training corpus (or dataset.train in --config).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the trained model.")] = Path("model"),
    dev: Annotated[
        Optional[Path], typer.Option(help="Dev corpus: entity F1 each epoch, best epoch kept, early stopping.")
    ] = None,
    batch_size: Annotated[
        Optional[int], typer.Option(help=f"Windows per batch [default: {DEFAULTS.batch_size}].")
    ] = None,
    patience: Annotated[
        Optional[int],
        typer.Option(help=f"Epochs without dev F1 gain before stopping [default: {DEFAULTS.early_stopping_patience}]."),
    ] = None,
    label_all_subwords: Annotated[
        Optional[bool],
        typer.Option("--label-all-subwords/--label-first-subword", help="Put the word's label on every sub-word."),
    ] = None,
    class_weights: Annotated[
        Optional[bool],
        typer.Option(
            "--class-weights/--no-class-weights", help="Weight the loss by inverse tag frequency (rare types)."
        ),
    ] = None,
    batching: Annotated[
        Optional[str],
        typer.Option(metavar="|".join(get_args(Batching)), help="bucket, group_by_length or random [default: bucket]."),
    ] = None,
    lora_rank: Annotated[
        Optional[int], typer.Option(help=f"Rank of the LoRA adapters [default: {DEFAULTS.lora_rank}].")
    ] = None,
    precision: Annotated[
        Optional[str],
        typer.Option(
            metavar="|".join(get_args(Precision)),
            help="auto (fp16/bf16 on GPUs, bf16 on CPUs that compute it natively), fp32, fp16 or bf16.",
        ),
    ] = None,
    force: ForceOpt = False,
    *,
    reader: CorpusReader,
    training: TrainingOptions,
) -> None:
    """Fine-tune a transformer token classifier on a corpus."""
    with user_errors():
        settings = training.settings(
            DEFAULTS,
            train=str(corpus) if corpus else None,
            dev=str(dev) if dev else None,
            format=reader.format,
            merge_types=reader.options.merge_type,
            batch_size=batch_size,
            early_stopping_patience=patience,
            label_all_subwords=label_all_subwords,
            class_weights=class_weights,
            batching=batching,
            precision=precision,
            lora_rank=lora_rank,
        )
        if settings.train is None:
            raise NerqaError("name a training corpus (argument or dataset.train in --config)")
        reader = reader.with_overrides(format=settings.format, merge_type=settings.merge_types)
        from nerqa.models.training import TRAIN_LOG, TRAINING_FOLDER_NAMES, train_to_folder

        check_output_folder(out, own=TRAINING_FOLDER_NAMES, force=force)  # fail now, not after training
        train_corpus = reader.read(Path(settings.train))
        dev_corpus = reader.read(Path(settings.dev)) if settings.dev else None
        prepare_models()
        from nerqa.models.runtime import process_rank

        if process_rank() != 0:  # torchrun: this process trains its share; rank 0 reports and writes
            train_to_folder(train_corpus, settings, out, dev=dev_corpus)
            return
        announce(train_corpus)
        with removed_on_failure(out), progress_display(out / TRAIN_LOG) as progress:
            result = train_to_folder(train_corpus, settings, out, dev=dev_corpus, progress=progress, force=force)
    render_training(result, out, settings)


def announce(corpus: Corpus) -> None:
    from nerqa.models.runtime import world_size

    console.print(
        f"Training on {counted(len(corpus), 'sentence')} ({counted(corpus.n_tokens, 'word')}), types: "
        f"{', '.join(corpus.entity_types)}" + (f"; {world_size()} data-parallel processes" if world_size() > 1 else ""),
        highlight=False,
    )


def render_training(result: TrainResult, out: Path, settings: TrainConfig) -> None:
    table = Table(title="Training", show_header=False, title_justify="left")
    table.add_row("model folder", str(out))
    share = result.trainable_parameters / result.total_parameters if result.total_parameters else 0
    table.add_row(
        "trained parameters",
        f"{result.trainable_parameters:,} of {result.total_parameters:,} ({share:.1%})"
        + (" (LoRA, merged into the saved model)" if settings.lora else ""),
    )
    table.add_row("training time", f"{result.train_seconds:,.0f} s ({result.tokens_per_second:,.0f} sub-words/s)")
    for info in result.history:
        if "dev_f1" in info:
            best = " (best)" if info["epoch"] == result.best_epoch else ""
            table.add_row(f"epoch {info['epoch']}", f"dev F1 {info['dev_f1']:.4f}{best}")
    console.print(table)
    next_step(
        f"score it on held-out data with nerqa evaluate {out} TEST, or audit with it: "
        f"nerqa audit CORPUS --trained {out}"
    )
