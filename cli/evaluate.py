"""`nerqa evaluate`: seqeval entity scores of a trained model on a labeled corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nerqa.formats import read_corpus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nerqa.metrics import Evaluation
from nerqa_cli._util import (
    EntityTypeOpt, FormatOpt, MergeOpt, RepairOpt, SchemeOpt, console, existing_path, progress_bars, quiet_transformers,
    read_options, user_errors,
)


def evaluate_cli(
    model_dir: Annotated[Path, typer.Argument(help="Trained model folder.")],
    corpus: Annotated[Path, typer.Argument(help="Labeled corpus to score against.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    format: FormatOpt = None,
    scheme: SchemeOpt = "auto",
    repair: RepairOpt = False,
    merge_types: MergeOpt = None,
    entity_type: EntityTypeOpt = "ENT",
) -> None:
    """Entity-level precision, recall and F1 per type (strict IOB2), token accuracy and span confusion."""
    from nerqa.model import evaluate, load_classifier

    with user_errors():
        options = read_options(scheme, repair, merge_types, entity_type, 0, -1)
        data = read_corpus(existing_path(corpus), format, options=options)
        quiet_transformers()
        classifier = load_classifier(model_dir)
        if as_json:
            result = evaluate(classifier, data)
        else:
            with progress_bars() as progress:
                result = evaluate(classifier, data, progress=progress)
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
    else:
        render_evaluation(result)


def render_evaluation(result: Evaluation) -> None:
    table = Table(title="Entity scores (strict IOB2)", title_justify="left")
    for column in ("type", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for name, s in sorted(result.per_type.items()):
        table.add_row(escape(name), f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", f"{s.support:,}")
    table.add_section()
    for name, s in (("micro", result.micro), ("macro", result.macro)):
        table.add_row(f"[bold]{name}[/]", f"{s.precision:.4f}", f"{s.recall:.4f}", f"[bold]{s.f1:.4f}[/]", f"{s.support:,}")
    console.print(table)
    console.print(f"token accuracy {result.token_accuracy:.4f}")
    gold = sorted({g for g, _ in result.confusion})
    predicted = sorted({p for _, p in result.confusion})
    confusion = Table(title="Span confusion (rows: gold span type, columns: predicted type at the same boundaries)", title_justify="left")
    confusion.add_column("gold \\ predicted")
    for p in predicted:
        confusion.add_column(escape(p), justify="right")
    for g in gold:
        confusion.add_row(escape(g), *(str(result.confusion.get((g, p), "")) for p in predicted))
    console.print(confusion)
