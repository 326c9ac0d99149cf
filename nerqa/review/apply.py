"""Decisions -> corrected corpus.

`apply_decisions` replays the effective decisions in the order they were recorded. Each is
found by its sentence's content key, checked against the sentence's labels as audited, and
applied as a change (the spans it removes and adds), so two reviewers' decisions on other
spans of one sentence both apply. A decision that cannot apply cleanly is a `Conflict`,
reported and never applied: its sentence is not in the corpus (its text changed), the
sentence's labels changed since the audit, or an earlier decision already changed its spans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nerqa.auditing.issues import sentence_keys
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.tags import Span, tags_from_spans
from nerqa.errors import NerqaError
from nerqa.review.decisions import AUTO_SOURCE, Decision, Standing, sentence_hash
from nerqa.review.spans import apply_change, overlaps

NOT_IN_CORPUS = "its sentence is not in this corpus (the text or the document changed)"


@dataclass(frozen=True)
class Conflict:
    """A decision that was not applied, and why."""

    decision: Decision
    reason: str


@dataclass
class ApplyResult:
    """The corrected corpus, the decisions applied and not applied, and the span changes
    counted per type: `changed` (same span with another type, or moved boundaries; counted
    under the type it had), `added` and `removed`."""

    corpus: Corpus
    applied: list[Decision] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    changed: Counter[str] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    sentences_changed: int = 0

    @property
    def missing(self) -> int:
        """Decisions whose sentence is not in the corpus (its text or document changed)."""
        return sum(c.reason == NOT_IN_CORPUS for c in self.conflicts)

    def summary(self) -> dict:
        types = sorted(set(self.changed) | set(self.added) | set(self.removed))
        return {
            "decisions_applied": len(self.applied),
            "automatic_fixes_applied": sum(d.source == AUTO_SOURCE for d in self.applied),
            "conflicts": len(self.conflicts),
            "sentences_changed": self.sentences_changed,
            "spans": {
                t: {"changed": self.changed[t], "added": self.added[t], "removed": self.removed[t]} for t in types
            },
            "total": {
                "changed": sum(self.changed.values()),
                "added": sum(self.added.values()),
                "removed": sum(self.removed.values()),
            },
        }


class Replay:
    """A corpus's audited spans with decisions replayed onto them, in recording order: the one
    place that says which decisions apply (the review session's screen and `apply` agree).

    Sentences are found by content key; a sentence's label hash is computed on first use.
    """

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.keys = sentence_keys(corpus)
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.original = [tuple(s.spans) for s in corpus.sentences]
        self._hashes: dict[int, str] = {}

    def hash(self, index: int) -> str:
        """`sentence_hash` of sentence `index` as audited."""
        if index not in self._hashes:
            self._hashes[index] = sentence_hash(self.corpus.sentences[index])
        return self._hashes[index]

    def run(
        self, decisions: Sequence[Decision], *, only: int | None = None
    ) -> tuple[list[tuple[Span, ...]], list[Decision], list[Conflict]]:
        """Each sentence's spans after the decisions, the decisions applied, and the conflicts.

        With `only`, the decisions are all on sentence `only`, and the states returned are the
        audited ones but for it (no copy of the whole corpus's states per keystroke).
        """
        state: list[tuple[Span, ...]] | _Overlay = list(self.original) if only is None else _Overlay(self.original)
        applied: list[Decision] = []
        conflicts: list[Conflict] = []
        for decision in decisions:
            index = self.index.get(decision.sentence_key)
            if index is None:
                conflicts.append(Conflict(decision, NOT_IN_CORPUS))
                continue
            if decision.sentence_hash != self.hash(index):
                conflicts.append(Conflict(decision, "the sentence's labels changed since the audit"))
                continue
            if not decision.changes:
                applied.append(decision)  # keep and skip: nothing to change
                continue
            length = len(self.corpus.sentences[index])
            if any(not 0 <= s.start < s.end <= length for s in decision.added):
                conflicts.append(Conflict(decision, f"a span lies outside the sentence ({length} tokens)"))
                continue
            updated = apply_change(state[index], decision.removed, decision.added)
            if updated is None:
                conflicts.append(Conflict(decision, "an earlier decision already changed these spans"))
                continue
            state[index] = updated
            applied.append(decision)
        return state, applied, conflicts  # type: ignore[return-value]


class _Overlay(dict):
    """A list-like view of `original` with a few entries replaced."""

    def __init__(self, original: Sequence[tuple[Span, ...]]) -> None:
        super().__init__()
        self.original = original

    def __missing__(self, index: int) -> tuple[Span, ...]:
        return self.original[index]


def apply_decisions(corpus: Corpus, decisions: Sequence[Decision]) -> ApplyResult:
    """The corpus with the decisions' changes made (the corpus itself is not modified).

    `decisions` are the effective ones (`DecisionStore.effective()`), in recording order.
    Applying the same decisions to the same corpus always gives the same result.

    Args:
        corpus: the audited corpus.
        decisions: the decisions in force, in recording order.

    Returns:
        The `ApplyResult`: the corrected corpus, the decisions applied and any conflicts.
    """
    replay = Replay(corpus)
    state, applied, conflicts = replay.run(decisions)
    result = ApplyResult(corpus, applied=applied, conflicts=conflicts)
    documents, n = [], 0
    for doc in corpus.documents:
        sentences = []
        for sentence in doc.sentences:
            if state[n] != replay.original[n]:
                result.sentences_changed += 1
                _count(replay.original[n], state[n], result)
                sentence = Sentence(
                    sentence.tokens, tuple(tags_from_spans(state[n], len(sentence))), sentence.offsets, sentence.source
                )
            sentences.append(sentence)
            n += 1
        documents.append(Document(doc.id, tuple(sentences), doc.text, doc.sections))
    result.corpus = Corpus(tuple(documents), name=corpus.name)
    return result


def _count(before: Sequence[Span], after: Sequence[Span], result: ApplyResult) -> None:
    """Count a sentence's span changes: a removed span overlapping an added one is `changed`."""
    kept_before, kept_after = set(before), set(after)
    removed = [s for s in before if s not in kept_after]
    added = [s for s in after if s not in kept_before]
    for span in removed:
        partner = next((a for a in added if overlaps(a, span)), None)
        if partner is not None:
            added.remove(partner)
            result.changed[span.label] += 1
        else:
            result.removed[span.label] += 1
    for span in added:
        result.added[span.label] += 1


def apply_audit_decisions(
    corpus: Corpus,
    audit_dir: str | Path,
    *,
    resolve: str | None = None,
    changed_corpus: bool = False,
    automatic: bool = True,
) -> tuple[Standing, ApplyResult]:
    """The decisions recorded in `audit_dir` applied to `corpus`: the log's standing (what is in
    force, what is in disagreement) and the result (`apply_decisions`). The store is read only.

    `resolve` settles disagreements (`nerqa.review.decisions.standing`). Without `automatic`,
    the automatic fixes (`nerqa autofix`, source `auto`) are left out: the people's decisions
    alone. Unless
    `changed_corpus`, `corpus` must be the audited one; with it, each decision finds its sentence
    by content, and it is an error when none does. Raises `NerqaError` in one line."""
    from nerqa.auditing.folder import check_audit_corpus
    from nerqa.review.decisions import DecisionStore

    folder = Path(audit_dir)
    if not changed_corpus:
        hint = "; if you edited it since, add --changed-corpus to replay the decisions by content"
        check_audit_corpus(folder, corpus, hint=hint)
    with DecisionStore.open(folder, read_only=True) as store:
        standing = store.standing(resolve=resolve)
    if not automatic:
        standing.in_force = [d for d in standing.in_force if d.source != AUTO_SOURCE]
    result = apply_decisions(corpus, standing.in_force)
    if changed_corpus and standing.in_force and result.missing == len(standing.in_force):
        raise NerqaError(
            f"{corpus.name}: none of the {len(standing.in_force):,} decisions found its sentence in this corpus; "
            "nothing was written"
        )
    return standing, result
