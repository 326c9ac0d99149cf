"""An audit of several files: what it found in each.

An audit of several files at once (`nerqa.data.parts`): what it found in each file.

`add_parts` records the parts in the audit's summary (`summary["parts"]`), each with its
sentences, its issues by type, its share of sentences with an issue and the cross-validated F1
on it, so that the terminal, the report and `apply` (which writes each file back under its
name) read them from one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from nerqa.auditing.folder import AuditResult
from nerqa.data.metrics import evaluate_tags
from nerqa.data.parts import Part, part_index, parts_from_dicts
from nerqa.data.probs import tags_from_probs
from nerqa.errors import NerqaError


def add_parts(result: AuditResult, parts: Sequence[Part]) -> None:
    """Record `parts` (in corpus order, covering every sentence) in `result.summary["parts"]`,
    one record per file: `name`, `documents`, `sentences`, `first_sentence` (the index of its
    first sentence in the joined corpus), `issues` (total and `by_type`), `sentences_with_issues`
    and `cv_f1` (micro F1 of the out-of-sample predictions on it; None where they are missing).
    A corpus of one part records nothing."""
    if sum(p.sentences for p in parts) != len(result.corpus):
        held = sum(p.sentences for p in parts)
        raise NerqaError(f"the parts hold {held:,} sentences, the audit {len(result.corpus):,}")
    if len(parts) < 2:
        return
    owner = part_index(parts)
    issues: list[list] = [[] for _ in parts]
    for issue in result.issues:
        issues[owner[issue.index]].append(issue)
    records = []
    start = 0
    for part, found in zip(parts, issues):
        span = range(start, start + part.sentences)
        probs = [result.pred_probs[i] for i in span]
        f1 = None
        if all(p is not None for p in probs):
            gold = [result.corpus.sentences[i].tags for i in span]
            f1 = round(evaluate_tags(gold, tags_from_probs(probs, result.tags)).micro.f1, 4)
        records.append(
            {
                **part.to_dict(),
                "first_sentence": start,
                "issues": {"total": len(found), "by_type": dict(Counter(i.type for i in found))},
                "sentences_with_issues": len({i.index for i in found}),
                "cv_f1": f1,
            }
        )
        start += part.sentences
    result.summary["parts"] = records


def parts_of(summary: dict) -> tuple[Part, ...]:
    """The parts an audit's summary records (empty for an audit of one file)."""
    return parts_from_dicts(summary.get("parts", []))


def part_names(summary: dict, n_sentences: int) -> list[str | None]:
    """The file of each sentence of the audited corpus (None throughout for one file)."""
    parts = parts_of(summary)
    if not parts:
        return [None] * n_sentences
    return [parts[i].name for i in part_index(parts)]
