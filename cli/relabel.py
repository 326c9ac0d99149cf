"""`nerqa relabel`: review an audit's issues in the full-screen terminal app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from nerqa.config import check_choice
from nerqa.errors import NerqaError
from nerqa.review.session import ORDERS, Filters
from nerqa_cli.console import console, existing_path, user_errors
from nerqa_cli.reading import STDIN, CorpusReader, shown, with_reader
from nerqa_cli.review_options import (
    AuditDirArg,
    AuditedCorpusArg,
    ReviewerOpt,
    with_filters,
)


@with_reader
@with_filters
def relabel_cli(
    corpus: AuditedCorpusArg,
    audit_dir: AuditDirArg,
    reviewer: ReviewerOpt = None,
    order: Annotated[
        str,
        typer.Option(
            metavar="|".join(ORDERS),
            help="Queue order: reach (the most suspicious first, an error repeated across the corpus earlier as "
            "one decision settles all its mentions), score (most suspicious issue first) or uncertainty (sentences "
            "the model is least sure of first, as nerqa select ranks a pool).",
        ),
    ] = "reach",
    *,
    reader: CorpusReader,
    filters: Filters,
) -> None:
    """Review the audit's issues, most suspicious first, in a full-screen terminal app. Every
    decision is saved in AUDIT_DIR/decisions.sqlite the moment you make it; run again to resume."""
    with user_errors():
        check_choice("--order", order, ORDERS)
        if STDIN in map(str, corpus):
            raise NerqaError(
                "-: the review app reads your keys from the terminal, so the corpus cannot come from "
                "standard input; name its file"
            )
        from nerqa.review.opening import open_review

        with open_review(
            reader.read_parts(corpus)[0], existing_path(audit_dir), reviewer=reviewer, filters=filters, order=order
        ) as session:
            store = session.store
            if not session.issues:
                raise NerqaError(f"no issue in {audit_dir} matches the filter ({filters.describe()})")
            from nerqa_cli.review_app import ReviewApp

            app = ReviewApp(session, crash_log=Path(audit_dir) / "relabel-errors.log")
            app.run()
            counts = session.counts()
            if app.crash is not None or app.return_code:
                n = len(store.all())
                where = f"; the details are in {app.crash_log}" if app.crash_log is not None else ""
                raise NerqaError(
                    f"the review app stopped on an unexpected error ({type(app.crash).__name__}: {app.crash}); "
                    f"all {n:,} decisions recorded are saved in {store.path}{where}"
                )
    decided = sum(counts[a] for a in ("accept", "keep", "edit"))
    disputed = f", {counts['disagreement']:,} in disagreement" if counts["disagreement"] else ""
    console.print(
        f"{decided:,} of {sum(counts.values()):,} issues decided, {counts['skip']:,} skipped{disputed}; "
        f"decisions are in {escape(str(store.path))}. "
        f"Next: nerqa apply {escape(shown(corpus))} {escape(str(audit_dir))} --out CORRECTED",
        highlight=False,
    )
