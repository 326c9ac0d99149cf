"""`nerqa select`: the sentences of an unlabeled pool most worth annotating next, pre-annotated."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nerqa.active.batch import batch_files
from nerqa.active.diversity import DIVERSITY
from nerqa.active.pool import labeled_keys, open_pool
from nerqa.active.strategies import DEFAULT_STRATEGY, STRATEGIES
from nerqa.config import check_choice, check_range
from nerqa.data.formats import FORMATS
from nerqa.data.probs import type_classes
from nerqa.errors import ConfigError
from nerqa.files import atomic_folder, check_output_folder, write_files
from nerqa.interop.tasks import TOOLS
from nerqa_cli.cluster import RayAddressOpt, WorkersOpt, ray_cluster
from nerqa_cli.console import console, err_console, prepare_models, user_errors
from nerqa_cli.progress import LogLines, progress_display
from nerqa_cli.reading import CorpusReader, ForceOpt, with_reader

LOG_FILE = "select.log"
OUTPUTS = FORMATS + TOOLS


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
ModelOpt = Annotated[
    Optional[Path],
    typer.Option(
        help="Trained token classifier (nerqa train's folder). Without it: a cold start, chosen for coverage alone."
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
    str,
    typer.Option(
        "--to",
        "-t",
        metavar="FORMAT",
        help=f"Batch format: a corpus format ({', '.join(FORMATS)}) or annotation-tool tasks ({', '.join(TOOLS)}).",
    ),
]
TextOpt = Annotated[bool, typer.Option("--text", help="POOL is raw text even if it looks like a corpus.")]
EncoderOpt = Annotated[
    Optional[Path],
    typer.Option(help="Cold start: the encoder whose embeddings measure coverage (default: the bundled MiniLM)."),
]
SeedOpt = Annotated[int, typer.Option(help="Seed for random choices (the random strategy, ties, clustering).")]


@with_reader
def select_cli(
    pool: PoolArg,
    budget: BudgetOpt,
    out: BatchOutOpt,
    model: ModelOpt = None,
    strategy: StrategyOpt = DEFAULT_STRATEGY,
    diversity: DiversityOpt = "near-duplicates",
    labeled: LabeledOpt = None,
    to: BatchFormatOpt = "jsonl",
    text: TextOpt = False,
    encoder: EncoderOpt = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    force: ForceOpt = False,
    *,
    reader: CorpusReader,
) -> None:
    """Choose the next sentences to annotate from an unlabeled pool and pre-annotate them."""
    with user_errors():
        check_choice("--strategy", strategy, STRATEGIES)
        check_choice("--diversity", diversity, DIVERSITY)
        check_choice("--to", to, OUTPUTS)
        check_range("--budget", budget, low=1, integer=True)
        if model is not None and encoder is not None:
            raise ConfigError("--encoder is for a cold start (no --model); a trained model brings its own encoder")
        if model is None and (strategy != DEFAULT_STRATEGY or diversity != "near-duplicates"):
            raise ConfigError(
                "without --model there are no uncertainty scores: a cold start chooses for coverage (drop "
                "--strategy and --diversity)"
            )
        check_output_folder(out, own=(LOG_FILE,), force=force)
        prepare_models()
        started = time.perf_counter()
        predictor = _predictor(model, encoder)
        known = reader.read(labeled) if labeled is not None else None
        documents, total = open_pool(pool, format=reader.format, options=reader.options, text=text)
        skip = labeled_keys(known) if known is not None else frozenset()
        options = dict(
            budget=budget, strategy=strategy, diversity=diversity, skip=skip, seed=seed, total_documents=total
        )
        with ray_cluster(workers, ray_address) as cluster:
            if cluster is not None:
                from nerqa.models.cluster import RayPredictor

                predictor = RayPredictor(cluster, predictor)
            selection, lines = _select_logged(documents, predictor, options)
        types = type_classes(selection.tags)[1:] or (list(known.entity_types) if known is not None else [])
        summary = {
            "pool": str(pool),
            "model": str(model) if model else None,
            "encoder": str(encoder) if encoder else None,
            "labeled": str(labeled) if labeled else None,
            "seconds": round(time.perf_counter() - started, 1),
        }
        # The log is written with the batch, once the selection is made: a failed run leaves no folder.
        files = batch_files(selection, Path(), to, types=types, summary=summary, options=reader.options)
        log = out / LOG_FILE
        with atomic_folder(out, own=(LOG_FILE,), force=force) as staging:
            earlier = log.read_text(encoding="utf-8") if log.is_file() else ""
            write_files({staging / path.name: text for path, text in files.items()})
            write_files({staging / LOG_FILE: earlier + lines})
        written = [out / path.name for path in files]
    _render(selection, written, log)


def _predictor(model: Optional[Path], encoder: Optional[Path]):
    """The trained classifier's predictor, or (no model) the bare encoder's for a cold start."""
    from nerqa.active.predictors import ClassifierPredictor, EncoderPredictor

    if model is not None:
        from nerqa.models.classifier import load_classifier

        return ClassifierPredictor(load_classifier(model))
    err_console.print(
        "[yellow]Note:[/] no --model: a cold start, choosing sentences that cover the pool.", highlight=False
    )
    return EncoderPredictor(encoder)


def _select_logged(documents, predictor, options: dict):
    """`select(documents, predictor, **options)` with progress on screen and in plain lines;
    returns the selection and the log lines."""
    from nerqa.active.select import select

    buffer = io.StringIO()
    logged = LogLines(buffer)
    with progress_display() as progress:

        def both(task: str, completed: int, n: int, info: dict) -> None:
            progress(task, completed, n, info)
            logged(task, completed, n, info)

        selection = select(documents, predictor, progress=both, **options)
    return selection, buffer.getvalue()


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
