"""The review commands' shared options: who decides, and which issues the queue holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from nerqa.auditing.issues import ISSUE_TYPES
from nerqa.errors import ConfigError
from nerqa.review.session import Filters
from nerqa_cli.groups import option_group

AuditedCorpusArg = Annotated[
    list[Path],
    typer.Argument(
        help="The corpus that was audited (it is never modified): its file, or its files in the order the audit "
        "named them.",
        metavar="CORPUS...",
    ),
]
AuditDirArg = Annotated[
    Path, typer.Argument(help="The audit folder; its decisions are stored in it, in decisions.sqlite.")
]
ReviewerOpt = Annotated[
    Optional[str], typer.Option(help="Your name in the decision log [default: $NERQA_REVIEWER or your login].")
]
IssueTypeOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--type",
        metavar="TYPE",
        help=f"Only these issue types ({', '.join(ISSUE_TYPES)}); repeat or comma-separate.",
    ),
]
ClassOpt = Annotated[
    Optional[list[str]], typer.Option("--class", metavar="CLASS", help="Only issues of these entity classes.")
]
MaxScoreOpt = Annotated[
    Optional[float], typer.Option(help="Only issues scoring at most this (lower = more suspicious).")
]


def names(values: Optional[list[str]]) -> frozenset[str]:
    """Repeated or comma-separated option values, as a set."""
    return frozenset(v.strip() for value in values or [] for v in value.split(",") if v.strip())


def review_filters(
    issue_type: Optional[list[str]], entity_class: Optional[list[str]], max_score: Optional[float]
) -> Filters:
    """The queue filters the options ask for; unknown issue types fail here, before any file is read."""
    from nerqa.auditing.issues import ISSUE_TYPES

    unknown = sorted(names(issue_type) - set(ISSUE_TYPES))
    if unknown:
        raise ConfigError(f"--type: unknown issue types {', '.join(unknown)}; types are {', '.join(ISSUE_TYPES)}")
    return Filters(names(issue_type), names(entity_class), max_score)


# Gives a review command `--type`, `--class` and `--max-score` as one `filters: Filters`.
with_filters = option_group(
    "filters",
    [("issue_type", IssueTypeOpt, None), ("entity_class", ClassOpt, None), ("max_score", MaxScoreOpt, None)],
    lambda values: review_filters(**values),
)


def with_min_confidence(filters: Filters, min_confidence: Optional[float]) -> Filters:
    """`filters` that also ask for suggestions of at least `min_confidence` (0-1)."""
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise ConfigError(f"--min-confidence must be between 0 and 1, not {min_confidence:g}")
    return dataclasses.replace(filters, min_confidence=min_confidence)
