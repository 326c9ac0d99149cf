"""`nerqa select`: the pool's sentences most worth annotating next, pre-annotated.

`nerqa select`: the sentences of an unlabeled pool most worth annotating next, pre-annotated."""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nerqa.active.diversity import DIVERSITY
from nerqa.active.strategies import DEFAULT_STRATEGY, STRATEGIES
from nerqa.config import check_choice
from nerqa.data.formats import FORMATS
from nerqa.errors import NerqaError
from nerqa.files import atomic_folder, check_output_folder, write_files
from nerqa.interop.task_formats import TOOLS
from nerqa_cli.cluster import RayAddressOpt, WorkersOpt, ray_cluster
from nerqa_cli.console import console, err_console, next_step, prepare_models, user_errors
from nerqa_cli.progress import LogLines, progress_display
from nerqa_cli.reading import CorpusReader, ForceOpt, with_reader

LOG_FILE = "select.log"


PoolArg = Annotated[
    Path,
    typer.Argument(
        help="Unlabeled text: a file of one document a line, a folder of .txt files, or a corpus in any "
        "format (its labels are ignored)."
    ),
]
BudgetOpt = Annotated[int, typer.Option("--budget", "-n", help="How many sentences to choose.")]
BatchOutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Folder for the batch, selection.jsonl (score and reason per sentence), summary.json and select.log.",
    ),
]
TrainedOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--trained",
        help="Trained token classifier (nerqa train's folder), as audit --trained takes one. Without it: a cold "
        "start, chosen for coverage alone.",
    ),
]
StrategyOpt = Annotated[
    str, typer.Option(metavar="|".join(STRATEGIES), help=f"Uncertainty measure: {', '.join(STRATEGIES)}.")
]
DiversityOpt = Annotated[
    str,
    typer.Option(
        metavar="|".join(DIVERSITY),
        help="Diversity guard: near-duplicates (leave out near-copies of a sentence already chosen), "
        "clusters (one sentence per k-means cluster of the candidates) or off.",
    ),
]
LabeledOpt = Annotated[Optional[Path], typer.Option(help="The labeled corpus: its sentences are never chosen.")]
BatchFormatOpt = Annotated[
    Optional[str],
    typer.Option(
        "--to",
        "-t",
        metavar="FORMAT",
        help=f"Batch as a corpus in this format ({', '.join(FORMATS)}) [default: jsonl].",
    ),
]
ToolOpt = Annotated[
    Optional[str],
    typer.Option(
        "--tool",
        metavar="|".join(TOOLS),
        help="Batch as review tasks for this annotation tool, as nerqa tasks --tool writes them (instead of --to).",
    ),
]
TextOpt = Annotated[bool, typer.Option("--text", help="POOL is raw text even if it looks like a corpus.")]
EncoderOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--model",
        help="Cold start: the encoder whose embeddings measure coverage, as train and audit --model take one "
        "[default: the bundled MiniLM].",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Seed for random choices (the random strategy, ties, clustering).")]


@with_reader
def select_cli(
    pool: PoolArg,
    budget: BudgetOpt,
    out: BatchOutOpt,
    trained: TrainedOpt = None,
    strategy: StrategyOpt = DEFAULT_STRATEGY,
    diversity: DiversityOpt = "near-duplicates",
    labeled: LabeledOpt = None,
    to: BatchFormatOpt = None,
    tool: ToolOpt = None,
    text: TextOpt = False,
    model: EncoderOpt = None,
    seed: SeedOpt = 42,
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    force: ForceOpt = False,
    *,
    reader: CorpusReader,
) -> None:
    """Choose the next sentences to annotate from an unlabeled pool and pre-annotate them."""
    with user_errors():
        from nerqa.active.batch import SelectSettings, select_batch
        from nerqa.active.ray_pool import RayPredictor

        if to is not None and tool is not None:
            raise NerqaError("--to (a corpus format) and --tool (annotation-tool tasks) exclude each other; pass one")
        if tool is not None:
            check_choice("--tool", tool, TOOLS)
        settings = SelectSettings(budget, strategy, diversity, seed, trained, model, tool or to or "jsonl")
        check_output_folder(out, own=(LOG_FILE,), force=force)
        prepare_models()
        if settings.cold_start:
            err_console.print(
                "[yellow]Note:[/] no --trained model: a cold start, choosing sentences that cover the pool."
            )
        known = reader.read(labeled) if labeled is not None else None
        with ray_cluster(workers, ray_address) as cluster, logged_progress() as (progress, lines):
            spread = None if cluster is None else functools.partial(RayPredictor, cluster)
            selection, files = select_batch(
                pool, settings, labeled=known, format=reader.format, options=reader.options, text=text,
                spread=spread, progress=progress,
            )  # fmt: skip
        # The log is written with the batch, once the selection is made: a failed run leaves no folder.
        log = out / LOG_FILE
        with atomic_folder(out, own=(LOG_FILE,), force=force) as staging:
            earlier = log.read_text(encoding="utf-8") if log.is_file() else ""
            write_files({staging / path.name: text for path, text in files.items()})
            write_files({staging / LOG_FILE: earlier + lines.getvalue()})
        written = [out / path.name for path in files]
    _render(selection, written, log)


@contextlib.contextmanager
def logged_progress():
    """Progress on screen and, as plain lines, in a buffer for select.log: `(callback, buffer)`."""
    buffer = io.StringIO()
    logged = LogLines(buffer)
    with progress_display() as progress:

        def both(task: str, completed: int, n: int, info: dict) -> None:
            progress(task, completed, n, info)
            logged(task, completed, n, info)

        yield both, buffer


def _render(selection, written: list[Path], log: Path) -> None:
    counts = selection.counts
    guard = "" if selection.diversity == "off" else f", diversity guard: {selection.diversity}"
    table = Table(title=f"Top of the batch ({selection.strategy}{guard})", title_justify="left")
    for column, justify in (("rank", "right"), ("score", "right"), ("reason", "left"), ("sentence", "left")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for choice in selection.choices[:10]:
        sentence = " ".join(choice.sentence.tokens)
        table.add_row(
            str(choice.rank),
            f"{choice.score:.3f}",
            escape(choice.reason),
            escape(sentence if len(sentence) <= 90 else sentence[:87] + "..."),
        )
    console.print(table)
    console.print(
        f"[green]Chose[/] {len(selection.choices):,} of {counts['scored']:,} new sentences ({counts['read']:,} read, "
        f"{counts['labeled']:,} already labeled, {counts['duplicates']:,} repeats); wrote "
        f"{', '.join(escape(str(p)) for p in written)} and {escape(str(log))}",
        highlight=False,
    )
    if selection.choices:
        next_step(
            "annotate the batch (its pre-annotations are the model's), then add it to the labeled corpus with "
            "nerqa convert LABELED LABELED.next --merge EXPORT, and train again"
        )
