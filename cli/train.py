"""`nerqa train`: fine-tune a token classifier and save a standard HF model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional, get_args

import typer
from rich.table import Table

from nerqa.config import Batching, Precision, TrainConfig
from nerqa.errors import NerqaError
from nerqa.files import check_output_folder, removed_on_failure
from nerqa_cli.util import (
    CorpusReader,
    ForceOpt,
    console,
    counted,
    prepare_models,
    progress_display,
    user_errors,
    with_reader,
)


@with_reader
def train_cli(
    corpus: Annotated[Optional[Path], typer.Argument(help="Training corpus (or dataset.train in --config).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the trained model.")] = Path("model"),
    dev: Annotated[
        Optional[Path], typer.Option(help="Dev corpus: entity F1 each epoch, best epoch kept, early stopping.")
    ] = None,
    model: Annotated[
        Optional[Path], typer.Option(help="Local HF encoder folder (default: the bundled MiniLM).")
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option(help="YAML file of settings (model/dataset/optim/schedule/trainer sections).")
    ] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Training epochs.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Windows per batch.")] = None,
    max_length: Annotated[
        Optional[int], typer.Option(help="Sub-words per window; longer sentences are windowed.")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed: same seed, same model.")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Epochs without dev F1 gain before stopping.")] = None,
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
        typer.Option(metavar="|".join(get_args(Batching)), help="bucket (default), group_by_length or random."),
    ] = None,
    lora: Annotated[
        Optional[bool],
        typer.Option(
            "--lora/--full",
            help="Train LoRA adapters (peft) on the attention and the classifier layer, not every weight; the "
            "adapters are merged on save, so the folder loads as any HF model. Takes a higher --lr (e.g. 1e-3).",
        ),
    ] = None,
    lora_rank: Annotated[Optional[int], typer.Option(help="Rank of the LoRA adapters (default 16).")] = None,
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
) -> None:
    """Fine-tune a transformer token classifier on a corpus."""
    with user_errors():
        settings = TrainConfig.from_yaml(config) if config else TrainConfig()
        settings = settings.replace(
            model=str(model) if model else None,
            train=str(corpus) if corpus else None,
            dev=str(dev) if dev else None,
            format=reader.format,
            merge_types=reader.options.merge_type,
            epochs=epochs,
            learning_rate=lr,
            batch_size=batch_size,
            max_length=max_length,
            seed=seed,
            early_stopping_patience=patience,
            label_all_subwords=label_all_subwords,
            class_weights=class_weights,
            batching=batching,
            precision=precision,
            lora=lora,
            lora_rank=lora_rank,
        )
        if settings.train is None:
            raise NerqaError("name a training corpus (argument or dataset.train in --config)")
        reader = reader.but(format=settings.format, merge_type=settings.merge_types)
        from nerqa.models.training import TRAINING_FOLDER_NAMES

        check_output_folder(out, own=TRAINING_FOLDER_NAMES, force=force)  # fail now, not after training
        train_corpus = reader.read(Path(settings.train))
        dev_corpus = reader.read(Path(settings.dev)) if settings.dev else None
        prepare_models()
        from nerqa.models.predict import evaluate
        from nerqa.models.runtime import process_rank, world_size
        from nerqa.models.training import TRAIN_LOG, save_training, train

        # Under torchrun or accelerate launch, every process trains its share of each batch;
        # rank 0 alone reports, evaluates and writes the model folder.
        if process_rank() != 0:
            train(train_corpus, settings, dev=dev_corpus)
            return
        console.print(
            f"Training on {counted(len(train_corpus), 'sentence')} ({counted(train_corpus.n_tokens, 'word')}), types: "
            f"{', '.join(train_corpus.entity_types)}"
            + (f"; {world_size()} data-parallel processes" if world_size() > 1 else ""),
            highlight=False,
        )
        with removed_on_failure(out), progress_display(out / TRAIN_LOG) as progress:
            result = train(train_corpus, settings, dev=dev_corpus, progress=progress, logging_dir=out / "runs")
            metrics: dict = {
                "train_sentences": len(train_corpus),
                "train_seconds": round(result.train_seconds, 1),
                "tokens_per_second": round(result.tokens_per_second, 1),
                "trainable_parameters": result.trainable_parameters,
                "total_parameters": result.total_parameters,
                "best_epoch": result.best_epoch,
                "history": result.history,
            }
            if dev_corpus is not None:
                metrics["dev"] = evaluate(result.classifier, dev_corpus, progress=progress).to_dict()
            save_training(result, out, settings, metrics, force=force)
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
