"""`nerqa decisions export` and `import`: the decision log out to a file and back.

`nerqa decisions export` and `nerqa decisions import`: the decision log out to a file, and
decisions in from an annotation tool's export or another copy's log."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from nerqa.files import atomic_write_text, check_output_file
from nerqa.review.roundtrip import TOOLS
from nerqa_cli.console import console, counted, existing_path, output, status_console, user_errors
from nerqa_cli.reading import CorpusReader, with_reader
from nerqa_cli.review_options import AuditDirArg, AuditedCorpusArg, ReviewerOpt


def export_cli(
    audit_dir: AuditDirArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSONL file to write, one decision a line.")],
) -> None:
    """Write every decision of the audit (undo rows included), in the order recorded."""
    with user_errors():
        from nerqa.review.decisions import DecisionStore

        check_output_file(output(out))
        with DecisionStore.open(existing_path(audit_dir), read_only=True) as store:
            rows = store.all()
        atomic_write_text(output(out), "".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in rows))
    status_console(out).print(
        f"[green]Wrote[/] {counted(len(rows), 'decision')} to {escape(str(out))}", highlight=False
    )


@with_reader
def import_cli(
    corpus: AuditedCorpusArg,
    audit_dir: AuditDirArg,
    source: Annotated[
        Path, typer.Argument(help="A Label Studio, Prodigy or doccano export, or another copy's decision log.")
    ],
    tool: Annotated[
        Optional[str],
        typer.Option(metavar="|".join(TOOLS), help="Check that the file is this tool's export (read from its shape)."),
    ] = None,
    reviewer: ReviewerOpt = None,
    linked: Annotated[
        bool,
        typer.Option(
            "--linked",
            help="Prodigy and doccano: extend each decision that changes labels to every linked mention its task "
            "listed (Label Studio tasks carry a tick box per mention instead).",
        ),
    ] = False,
    *,
    reader: CorpusReader,
) -> None:
    """Record the decisions in SOURCE: a tool's exported results (accept, keep, edit or skip, by
    what the annotator left) or a decision log. Each is checked against the audit first; one
    recorded by an earlier import is not recorded again."""
    with user_errors():
        from nerqa.review.opening import open_review
        from nerqa.review.roundtrip import detect_tool, import_decision_log, import_results, read_records

        records = read_records(existing_path(source))
        shape = detect_tool(records, source)
        with open_review(reader.read_parts(corpus)[0], existing_path(audit_dir), reviewer=reviewer) as session:
            store = session.store
            if shape == "decisions":
                decisions = import_decision_log(session, source)
            else:
                decisions = import_results(session, source, tool, reviewer=reviewer, records=records, linked=linked)
            render_import(store.record_new(decisions), source, None if shape == "decisions" else shape)


def render_import(outcome: tuple[list, int], path: Path, tool: Optional[str]) -> None:
    """What an import recorded, per action, and how many an earlier import had recorded."""
    recorded, known = outcome
    source = f" ({tool})" if tool else ""
    actions = Counter(d.action for d in recorded)
    kinds = f": {', '.join(f'{a} {n:,}' for a, n in sorted(actions.items()))}" if recorded else ""
    untouched = " (a skip is a task nobody touched)" if actions["skip"] and tool else ""
    again = f"; {known:,} were recorded by an earlier import and are not recorded again" if known else ""
    console.print(
        f"[green]Recorded[/] {len(recorded):,} new decisions from {escape(str(path))}{source}{kinds}{untouched}{again}",
        highlight=False,
    )
