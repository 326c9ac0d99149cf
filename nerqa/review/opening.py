"""Opening a review: the audit, its decision store and a session in one call.

Opening a review: the chain every review command starts with (the audit read back and
checked against the corpus, its decision store opened, a session over both)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from nerqa.auditing.folder import load_audit
from nerqa.data.corpus import Corpus
from nerqa.errors import ConfigError
from nerqa.review.decisions import DecisionStore, default_reviewer
from nerqa.review.session import Filters, ReviewSession


@contextlib.contextmanager
def open_review(
    corpus: Corpus,
    audit_dir: str | Path,
    *,
    reviewer: str | None = None,
    filters: Filters | None = None,
    order: str = "score",
    record: bool = True,
) -> Iterator[ReviewSession]:
    """The review of the audit of `corpus` in `audit_dir`, by `reviewer` (default: $NERQA_REVIEWER
    or the login), its queue cut to `filters` and ordered by `order`. The decision store is
    closed on exit. Without `record` it is opened read-only (an empty one where none exists yet),
    so nothing can be recorded and a read-only audit folder works.

    Raises `NerqaError` in one line when the folder is not this corpus's audit, or
    `filters.classes` names a class no issue has."""
    folder = Path(audit_dir)
    filters = filters or Filters()
    result = load_audit(folder, corpus)
    known = sorted({t for i in result.issues for t in (i.given, i.suggested)} - {"O"})
    unknown = sorted(filters.classes - set(known))
    if unknown:
        raise ConfigError(f"no issue has the class {', '.join(unknown)}; classes are {', '.join(known) or 'none'}")
    with DecisionStore.open(folder) if record else DecisionStore.open_or_empty(folder) as store:
        yield ReviewSession(result, store, reviewer or default_reviewer(), filters=filters, order=order)
