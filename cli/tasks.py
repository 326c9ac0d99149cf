"""`nerqa tasks`: the audit's undecided issues as review tasks for annotation tools.

`nerqa tasks`: the audit's undecided issues as review tasks for Label Studio, Prodigy or doccano.
Their results come back with `nerqa decisions import`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from nerqa.config import check_choice
from nerqa.files import atomic_write_text, check_output_file
from nerqa.review.roundtrip import TOOLS
from nerqa.review.session import ORDERS, Filters
from nerqa_cli.console import (
    counted,
    existing_path,
    next_step,
    output,
    status_console,
    user_errors,
)
from nerqa_cli.reading import CorpusReader, shown, with_reader
from nerqa_cli.review_options import AuditDirArg, AuditedCorpusArg, with_filters


@with_reader
@with_filters
def tasks_cli(
    corpus: AuditedCorpusArg,
    audit_dir: AuditDirArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="The tasks file to write.")],
    tool: Annotated[
        str, typer.Option(metavar="|".join(TOOLS), help="The annotation tool the tasks are for.")
    ] = "labelstudio",
    limit: Annotated[
        Optional[int], typer.Option(min=1, help="At most this many issues, the most suspicious first.")
    ] = None,
    order: Annotated[
        str, typer.Option(metavar="|".join(ORDERS), help="Which issues come first (see nerqa relabel).")
    ] = "score",
    label_config_out: Annotated[
        Optional[Path],
        typer.Option(
            "--label-config",
            help="Also write the Label Studio labeling config the tasks need (spans, and a tick box per linked "
            "mention) to this file.",
        ),
    ] = None,
    *,
    reader: CorpusReader,
    filters: Filters,
) -> None:
    """Write the undecided issues the filters admit as review tasks, pre-annotated with the
    given spans and nerqa's suggestion. Records nothing."""
    with user_errors():
        check_choice("--tool", tool, TOOLS)
        check_choice("--order", order, ORDERS)
        check_output_file(output(out))
        if label_config_out is not None:
            check_output_file(label_config_out)
        from nerqa.review.opening import open_review
        from nerqa.review.roundtrip import export_tasks

        # Exporting tasks records nothing (and works on a read-only audit folder).
        with open_review(
            reader.read_parts(corpus)[0], existing_path(audit_dir), filters=filters, order=order, record=False
        ) as session:
            issues = session.queue()[:limit]
            text = export_tasks(session, issues, tool)
            types = sorted({t.split("-", 1)[1] for t in session.result.tags if "-" in t})
        atomic_write_text(output(out), text)
        if label_config_out is not None:
            from nerqa.interop.task_formats import label_config

            atomic_write_text(label_config_out, label_config(types, linked=True) + "\n")
    status_console(out).print(
        f"[green]Wrote[/] {counted(len(issues), 'review task')} for {tool} to {escape(str(out))}", highlight=False
    )
    if issues:
        config = (
            " (its labeling config: --label-config FILE)" if tool == "labelstudio" and label_config_out is None else ""
        )
        next_step(
            f"load them into {tool}{config}, review, export, then record the results with nerqa decisions import "
            f"{shown(corpus)} {audit_dir} EXPORT",
            out,
        )
