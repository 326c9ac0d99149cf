"""`nerqa evaluate`: seqeval entity scores of a trained model on a labeled corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nerqa_cli.console import console, prepare_models, user_errors
from nerqa_cli.progress import progress_display
from nerqa_cli.reading import CorpusReader, with_reader

if TYPE_CHECKING:
    from nerqa.data.metrics import Evaluation


@with_reader
def evaluate_cli(
    model_dir: Annotated[Path, typer.Argument(help="Trained model folder.")],
    corpus: Annotated[Path, typer.Argument(help="Labeled corpus to score against.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    *,
    reader: CorpusReader,
) -> None:
    """Entity-level precision, recall and F1 per type (strict IOB2), token accuracy and span confusion."""
    with user_errors():
        data = reader.read(corpus)
        prepare_models()
        from nerqa.models.classifier import load_classifier
        from nerqa.models.predict import evaluate

        classifier = load_classifier(model_dir)
        if as_json:
            result = evaluate(classifier, data)
        else:
            with progress_display() as progress:
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
        table.add_row(
            f"[bold]{name}[/]", f"{s.precision:.4f}", f"{s.recall:.4f}", f"[bold]{s.f1:.4f}[/]", f"{s.support:,}"
        )
    console.print(table)
    console.print(f"token accuracy {result.token_accuracy:.4f}")
    gold = sorted({g for g, _ in result.confusion})
    predicted = sorted({p for _, p in result.confusion})
    confusion = Table(
        title="Span confusion (rows: gold span type, columns: predicted type at the same boundaries)",
        title_justify="left",
    )
    confusion.add_column("gold \\ predicted")
    for p in predicted:
        confusion.add_column(escape(p), justify="right")
    for g in gold:
        confusion.add_row(escape(g), *(str(result.confusion.get((g, p), "")) for p in predicted))
    console.print(confusion)
