"""`nerqa compare`: two models on one corpus, or two audits of one corpus.

`nerqa compare`: before/after views of the review loop: two models on one held-out
corpus, and an audit against its re-audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nerqa_cli.console import console, existing_path, prepare_models, user_errors
from nerqa_cli.progress import progress_display
from nerqa_cli.reading import CorpusReader, with_reader


@with_reader
def compare_models_cli(
    before: Annotated[Path, typer.Argument(help="Model folder A (e.g. trained on the original corpus).")],
    after: Annotated[Path, typer.Argument(help="Model folder B (e.g. trained on the corrected corpus).")],
    corpus: Annotated[Path, typer.Argument(help="Held-out labeled corpus both are scored on.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    *,
    reader: CorpusReader,
) -> None:
    """Entity F1 per type of two models on the same held-out corpus, side by side."""
    with user_errors():
        data = reader.read(corpus)
        prepare_models()
        from nerqa.data.metrics import compare_evaluations
        from nerqa.models.classifier import load_classifier
        from nerqa.models.predict import evaluate

        with progress_display() as progress:
            a = evaluate(load_classifier(existing_path(before)), data, progress=progress)
            b = evaluate(load_classifier(existing_path(after)), data, progress=progress)
        rows = compare_evaluations(a, b)
    if as_json:
        console.print_json(
            json.dumps(
                [{"name": r.name, "f1_a": r.f1_a, "f1_b": r.f1_b, "delta": r.delta, "support": r.support} for r in rows]
            )
        )
        return
    table = Table(title=f"Entity F1 on {escape(str(corpus))} (strict IOB2)", title_justify="left")
    for column in ("type", escape(str(before)), escape(str(after)), "change", "support"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for r in rows:
        if r.name == "micro":
            table.add_section()
        colour = "green" if r.delta > 0 else "red" if r.delta < 0 else "white"
        table.add_row(
            escape(r.name), f"{r.f1_a:.4f}", f"{r.f1_b:.4f}", f"[{colour}]{r.delta:+.4f}[/]", f"{r.support:,}"
        )
    console.print(table)


def compare_audits_cli(
    before: Annotated[Path, typer.Argument(help="The earlier audit folder (e.g. of the original corpus).")],
    after: Annotated[Path, typer.Argument(help="The re-audit folder (e.g. of the corrected corpus).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Which of the earlier audit's issues are resolved, which remain, and which are new."""
    with user_errors():
        from nerqa.auditing.diff import compare_audits
        from nerqa.auditing.folder import load_issue_records

        diff = compare_audits(load_issue_records(existing_path(before)), load_issue_records(existing_path(after)))
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "resolved": [r["id"] for r in diff.resolved],
                    "remaining": [r["id"] for r in diff.remaining],
                    "new": [r["id"] for r in diff.new],
                    "by_type": diff.by_type(),
                }
            )
        )
        return
    table = Table(
        title=f"Issues: {len(diff.resolved):,} resolved, {len(diff.remaining):,} remaining, {len(diff.new):,} new",
        title_justify="left",
    )
    for column in ("type", "resolved", "remaining", "new"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for kind, row in diff.by_type().items():
        table.add_row(kind, *(f"{row[k]:,}" for k in ("resolved", "remaining", "new")))
    console.print(table)
