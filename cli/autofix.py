"""`nerqa autofix`: the audit's confident suggestions taken where no person decided.

`nerqa autofix`: the audit's confident suggestions taken where no person decided, on a corpus
the audit finds noisy, recorded as automatic decisions (`nerqa.review.autofix`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from nerqa_cli.accept import render_bulk
from nerqa_cli.console import console, counted, err_console, existing_path, next_step, user_errors
from nerqa_cli.reading import CorpusReader, shown, with_reader
from nerqa_cli.review_options import AuditDirArg, AuditedCorpusArg


@with_reader
def autofix_cli(
    corpus: AuditedCorpusArg,
    audit_dir: AuditDirArg,
    min_confidence: Annotated[
        Optional[float],
        typer.Option(help="Only suggestions the model gives at least this probability (0-1). [default: 0.7]"),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Fix even where the audit cannot tell the corpus from a clean one."),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change, record nothing.")] = False,
    undo: Annotated[
        bool, typer.Option("--undo", help="Take back every automatic fix (a person's decisions stay).")
    ] = False,
    *,
    reader: CorpusReader,
) -> None:
    """Fix what no one reviewed: take the suggestions of the issue types that were mostly right on
    noisy corpora (missed spans, spans with other bounds) where the model is confident, on a
    corpus whose audit finds real errors. Each fix is a decision of its own kind (source auto):
    listed and exported with the others, undone with --undo, left out by apply --no-auto, and
    always outvoted by a person's decision on the same issue."""
    with user_errors():
        from nerqa.review.autofix import (
            AUTOFIX_MIN_CONFIDENCE,
            AUTOFIX_MIN_NOISE,
            AUTOFIX_REVIEWER,
            plan_autofix,
            record_autofix,
            undo_autofix,
        )
        from nerqa.review.opening import open_review
        from nerqa.review.session import Filters
        from nerqa_cli.review_options import with_min_confidence

        threshold = with_min_confidence(Filters(), min_confidence).min_confidence or AUTOFIX_MIN_CONFIDENCE
        data, folder = reader.read_parts(corpus)[0], existing_path(audit_dir)
        if undo:
            with open_review(data, folder, reviewer=AUTOFIX_REVIEWER, record=not dry_run) as session:
                undone = [] if dry_run else undo_autofix(session)
            console.print(f"Took back {counted(len(undone), 'automatic fix', 'automatic fixes')}.", highlight=False)
            return
        # Planned read-only: a corpus the gate holds back, or a dry run, leaves the folder as it was.
        with open_review(data, folder, reviewer=AUTOFIX_REVIEWER, record=False) as session:
            plan = plan_autofix(session, min_confidence=threshold, force=force)
            kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(plan.by_type(session).items()))
            recorded = plan.decisions
            if dry_run and not plan.held_back:
                render_bulk(session, recorded, True, ("Would fix", "Fixed"))
        if plan.held_back:
            estimate = "no noise estimate" if plan.noise_low is None else f"at least {plan.noise_low:.1%}"
            err_console.print(
                f"Nothing fixed: the audit finds {estimate} of sentences in error, below the {AUTOFIX_MIN_NOISE:.0%} "
                "at which automatic fixes were measured to help; on a corpus it cannot tell from clean, its "
                "suggestions are mostly its own mistakes. --force fixes anyway.",
                highlight=False,
            )
            next_step(f"review the issues with nerqa relabel {shown(corpus)} {audit_dir}")
            return
        if not dry_run:
            with open_review(data, folder, reviewer=AUTOFIX_REVIEWER) as session:
                recorded = record_autofix(session, plan)
                render_bulk(session, recorded, False, ("Would fix", "Fixed"))
        console.print(
            f"{'Would fix' if dry_run else 'Fixed'} {counted(len(recorded), 'issue')} ({kinds or 'none'}) at "
            f"confidence >= {threshold:g}"
            + (f"; the audit finds at least {plan.noise_low:.1%} of sentences in error." if plan.noise_low else "."),
            highlight=False,
            soft_wrap=True,
        )
    if recorded and not dry_run:
        next_step(
            f"write the corpus with nerqa apply {shown(corpus)} {audit_dir} --out FIXED (automatic fixes and your "
            "decisions; "
            "--no-auto leaves the automatic ones out)"
        )
