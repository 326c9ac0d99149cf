"""`nerqa accept`: accept the audit's suggestions in bulk, without the app."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nerqa.review.session import Filters
from nerqa_cli.console import console, counted, err_console, existing_path, next_step, user_errors
from nerqa_cli.reading import CorpusReader, shown, with_reader
from nerqa_cli.review_options import (
    AuditDirArg,
    AuditedCorpusArg,
    ReviewerOpt,
    with_filters,
    with_min_confidence,
)


@with_reader
@with_filters
def accept_cli(
    corpus: AuditedCorpusArg,
    audit_dir: AuditDirArg,
    reviewer: ReviewerOpt = None,
    min_confidence: Annotated[
        Optional[float],
        typer.Option(
            help="Only suggestions the model gives at least this probability (0-1; the issue's confidence); "
            "corpus checks, which have none, are then left out."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change, record nothing.")] = False,
    linked: Annotated[
        bool,
        typer.Option(
            "--linked",
            help="Extend each acceptance to its linked mentions: the same words, labelled as they were, elsewhere "
            "(listed under the issue that leads them; preview with --dry-run).",
        ),
    ] = False,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Accept every suggestion the filters admit, even with no filter (without one, nothing is accepted: "
            "no issue type's suggestions were right 90 % of the time on the real corpora measured).",
        ),
    ] = False,
    *,
    reader: CorpusReader,
    filters: Filters,
) -> None:
    """Accept the suggestion of every undecided issue the filters admit, one recorded decision
    each (a suggestion that would change nothing is left alone). Give a filter, or --all."""
    with user_errors():
        filters = with_min_confidence(filters, min_confidence)
        from nerqa.review.opening import open_review

        unfiltered = filters == Filters() and not every
        # A dry run records nothing (and works on a read-only audit folder).
        with open_review(
            reader.read_parts(corpus)[0],
            existing_path(audit_dir),
            reviewer=reviewer,
            filters=filters,
            record=not (dry_run or unfiltered),
        ) as session:
            if unfiltered:
                err_console.print(
                    "Nothing accepted: no issue type's suggestions were right at least 90 % of the time on the real "
                    "corpora measured (see the review docs, 'How often a suggestion is right'), so accept takes a "
                    "filter (--type, --class, --max-score, --min-confidence) or --all. Preview with --dry-run.",
                    highlight=False,
                )
                next_step(f"review the issues one by one with nerqa relabel {shown(corpus)} {audit_dir}")
                return
            planned = session.bulk_accept(filters, dry_run=dry_run, linked=linked)
            render_bulk(session, planned, dry_run)
    if dry_run and planned:
        next_step(
            "record them with the same command without --dry-run, or review them one by one with "
            f"nerqa relabel {shown(corpus)} {audit_dir}"
        )
    elif planned:
        next_step(f"write the corrected corpus with nerqa apply {shown(corpus)} {audit_dir} --out CORRECTED")


def render_bulk(session, planned, dry_run: bool, verbs: tuple[str, str] = ("Would accept", "Accepted")) -> None:
    """The table of what was (or would be) accepted: each issue by its type and words."""
    corpus = session.result.corpus
    extended = sum(d.source == "propagated" for d in planned)
    table = Table(
        title=(verbs[0] if dry_run else verbs[1])
        + f" {counted(len(planned) - extended, 'suggestion')}"
        + (f", extended to {counted(extended, 'linked mention')}" if extended else ""),
        title_justify="left",
    )
    for column in ("issue", "sentence", "before", "after"):
        table.add_column(column, overflow="fold")
    for d in planned:
        tokens = corpus.sentences[d.index].tokens
        show = lambda spans: "; ".join(f"{' '.join(tokens[s.start : s.end])} {s.label}" for s in spans) or "-"  # noqa: E731
        issue = session.issue(d.issue_id)
        table.add_row(
            escape(
                f"{issue.type} {issue.text!r}" + (" (linked)" if d.source == "propagated" else "")
                if issue
                else "linked mention"
            ),
            str(d.index),
            escape(show(d.removed)),
            escape(show(d.added)),
        )
    console.print(table)
    if dry_run:
        err_console.print("Dry run: nothing was recorded.")
