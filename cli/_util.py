"""Shared CLI pieces: the consoles, the error display, and reusable options."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from nerqa.errors import NerqaError
from nerqa.formats import FORMATS, ReadOptions

console = Console()
err_console = Console(stderr=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show a `NerqaError` as one red line on stderr and exit 1, without a traceback."""
    try:
        yield
    except NerqaError as error:
        err_console.print(f"[bold red]Error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/]")
        raise typer.Exit(130) from None


def check_format(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


FormatOpt = Annotated[Optional[str], typer.Option("--format", "-f", help=f"Input format ({', '.join(FORMATS)}); detected from name and content if omitted.", callback=check_format)]
SchemeOpt = Annotated[str, typer.Option(help="Tag scheme of token formats: auto, iob1, iob2 or bioes.")]
RepairOpt = Annotated[bool, typer.Option("--repair", help="Read an I- tag that starts a span as B- instead of failing.")]
MergeOpt = Annotated[Optional[str], typer.Option("--merge-types", metavar="TYPE", help="Rename every entity type to TYPE (e.g. Disease: merge the four NCBI categories).")]
EntityTypeOpt = Annotated[str, typer.Option(help="Type given to bare B/I tags (NeMo labels files).")]
TokenColOpt = Annotated[int, typer.Option(help="CoNLL token column (0-based; negative counts from the end).")]
TagColOpt = Annotated[int, typer.Option(help="CoNLL tag column (0-based; negative counts from the end).")]


def read_options(scheme: str, repair: bool, merge_types: Optional[str], entity_type: str, token_column: int, tag_column: int) -> ReadOptions:
    if scheme not in ("auto", "iob1", "iob2", "bioes"):
        raise typer.BadParameter(f"--scheme must be auto, iob1, iob2 or bioes, not {scheme!r}")
    return ReadOptions(scheme=scheme, repair=repair, token_column=token_column, tag_column=tag_column, entity_type=entity_type, merge_type=merge_types)


@contextlib.contextmanager
def progress_bars() -> Iterator:
    """A rich progress display; yields a `ProgressCallback` that creates one bar per task."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    labels = {"train": "training steps", "epoch": "epochs", "predict": "predicting", "evaluate": "dev evaluation", "fold": "folds"}
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console, transient=False,
    ) as bars:
        tasks: dict[str, int] = {}
        last: dict[str, int] = {}

        def callback(task: str, completed: int, total: int, info: dict) -> None:
            if task not in tasks:
                tasks[task] = bars.add_task(labels.get(task, task), total=total, info="")
            text = ""
            if "dev_f1" in info:
                text = f"dev F1 {info['dev_f1']:.3f}" + (" (stopped early)" if info.get("stopped_early") else "")
            if completed < last.get(task, 0):  # a repeated pass (dev evaluation each epoch)
                bars.reset(tasks[task], total=total)
            last[task] = completed
            bars.update(tasks[task], completed=completed, total=total, **({"info": text} if text else {}))

        yield callback


def quiet_transformers() -> None:
    """Silence transformers' own progress bars and load reports: nerqa draws its own."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def existing_path(path: Path) -> Path:
    if not path.exists():
        raise NerqaError(f"{path}: no such file or folder")
    return path
