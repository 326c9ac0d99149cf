"""Linked mentions: one decision for every mention the audit links to it.

Linked mentions: one decision made for every mention the audit links to it, and the queue
order that puts such decisions first. `ReviewSession` takes these methods from `Linking`.

A decision that changes labels links to the other occurrences of the words it changes that read
as they did (same form, same given labels: the same fix), found with `FormIndex`; a keep links to
the other issues with the same words, given label and suggestion. Each extension is a decision of
its own (source `propagated`), one batch per extension, so one undo takes it back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nerqa.auditing.issues import Issue
from nerqa.data.tags import Span
from nerqa.review.decisions import Action, Decision
from nerqa.review.spans import Occurrence, apply_change, change_of, same_form

if TYPE_CHECKING:
    from nerqa.auditing.folder import AuditResult
    from nerqa.review.spans import FormIndex


class Linking:
    """Linked mentions for a review session (the attributes below are the session's)."""

    result: AuditResult
    forms: FormIndex
    keys: list[str]
    by_key: dict[str, int]
    states: list[tuple[Span, ...]]

    def propagation(self, decision: Decision) -> list[Occurrence]:
        """The other occurrences of the changed words that read as they did before the
        decision, each with the same change made (empty when the decision changed nothing).

        Args:
            decision: a recorded decision.
        """
        index = self.by_key[decision.sentence_key]
        change = change_of(decision.before, decision.after)
        if change is None:
            return []
        return same_form(change, self.result.corpus.sentences[index].tokens, index, self.forms, self.states)

    def linked_mentions(self, issue: Issue, after: Sequence[Span] | None = None) -> list[Occurrence]:
        """The mentions a decision on `issue` would be offered for: the other occurrences of the
        words it changes that read as they do now, each with the same change made. `after`: the
        sentence's spans after the decision (default: the suggestion accepted).

        Args:
            issue: an issue of the audit.
            after: the sentence's spans after the decision (default: the suggestion).
        """
        before = self.base(issue)
        change = change_of(before, self.suggestion(issue) if after is None else after)
        if change is None:
            return []
        tokens = self.result.corpus.sentences[issue.index].tokens
        return same_form(change, tokens, issue.index, self.forms, self.states)

    def propagate(self, decision: Decision, occurrences: Sequence[Occurrence]) -> list[Decision]:
        """Record the change at each occurrence, one decision each, in one transaction and one
        batch (one undo takes them all back).

        Args:
            decision: a recorded decision.
            occurrences: the linked mentions the reviewer kept checked.
        """
        return self.record_batch(self.extension(decision, occurrences, list(self.states), uuid.uuid4().hex[:12]))

    def extension(
        self,
        decision: Decision,
        occurrences: Sequence[Occurrence],
        states: list[tuple[Span, ...]],
        batch: str,
        *,
        source: str = "propagated",
    ) -> list[Decision]:
        """The decisions (not recorded) that make `decision`'s change at each occurrence, made on
        `states` (each sentence's spans; updated in place): one per occurrence that still reads as
        it did when it was found (an earlier one in the same sentence may have changed it).

        Args:
            decision: the decision to extend.
            occurrences: the linked mentions to extend it to.
            states: each sentence's spans, updated in place as decisions are made.
            batch: the batch id one undo takes back together.
            source: the decisions' source (default `propagated`).
        """
        out = []
        for occurrence in occurrences:
            removed = set(occurrence.before) - set(occurrence.after)
            added = set(occurrence.after) - set(occurrence.before)
            after = apply_change(states[occurrence.index], tuple(removed), tuple(added))
            if after is None:
                continue
            issue_id = self.issue_at(occurrence) or propagated_id(self.keys[occurrence.index], occurrence, decision)
            action: Action = "edit" if decision.action == "edit" else "accept"
            out.append(
                self.make_decision(
                    issue_id,
                    occurrence.index,
                    action,
                    after,
                    source=source,
                    batch=batch,
                    before=states[occurrence.index],
                )
            )
            states[occurrence.index] = after
        return out

    def same_issues(self, issue: Issue) -> list[Issue]:
        """The other undecided issues the audit raised on the same words with the same given
        label and the same suggestion (type, text, given, suggested): where a decision to keep
        the labels, taken on one, holds for all.

        Args:
            issue: an issue of the audit.
        """
        key = (issue.type, issue.text, issue.given, issue.suggested)
        return [
            i
            for i in self.result.issues
            if i.id != issue.id and (i.type, i.text, i.given, i.suggested) == key and self.status(i) is None
        ]

    def keep_all(self, issues: Sequence[Issue]) -> list[Decision]:
        """Keep the labels at each of `issues` (`same_issues` the reviewer checked): one decision
        each (source `propagated`), in one transaction and one batch, so one undo takes all back.

        Args:
            issues: the issues to keep the labels of.
        """
        batch = uuid.uuid4().hex[:12]
        planned = [
            self.make_decision(
                i.id, i.index, "keep", self.base(i), source="propagated", batch=batch, before=self.base(i)
            )
            for i in issues
        ]
        return self.record_batch(planned)

    def issue_at(self, occurrence: Occurrence) -> str | None:
        """The undecided issue of that sentence that the change settles: one whose span is a
        changed span's, else one the change touches; span issues before `sparse` notes.

        Args:
            occurrence: a linked mention with its change.
        """
        before = set(occurrence.before)
        touched = (before - set(occurrence.after)) | (set(occurrence.after) - before)
        bounds = {(s.start, s.end) for s in touched}
        candidates = [
            i
            for i in self.result.issues
            if i.index == occurrence.index
            and self.status(i) is None
            and any(s.start < i.end and i.start < s.end for s in touched)
        ]
        candidates.sort(key=lambda i: ((i.start, i.end) not in bounds, i.type == "sparse"))
        return candidates[0].id if candidates else None

    def extend_planned(self, decision: Decision, states: list[tuple[Span, ...]], batch: str) -> list[Decision]:
        """The decisions that extend a planned `decision` to its linked mentions, made on the
        planned `states` (updated in place).

        Args:
            decision: a planned decision.
            states: each sentence's planned spans, updated in place.
            batch: the batch id.
        """
        change = change_of(decision.before, decision.after)
        if change is None:
            return []
        tokens = self.result.corpus.sentences[decision.index].tokens  # type: ignore[index]
        found = same_form(change, tokens, decision.index, self.forms, states)  # type: ignore[arg-type]
        return self.extension(decision, found, states, batch)


def reach_order(issues: Sequence[Issue]) -> list[Issue]:
    """`issues` (most suspicious first) ordered by rank divided by the size of their group (the
    issues sharing type, words, given label and suggestion), ties in rank order: of two issues
    equally likely to be errors, the one whose decision settles more mentions comes first.

    Args:
        issues: the audit's issues, most suspicious first.
    """
    groups = Counter((i.type, i.text, i.given, i.suggested) for i in issues)
    ranked = sorted(
        enumerate(issues),
        key=lambda pair: (
            (pair[0] + 1) / groups[(pair[1].type, pair[1].text, pair[1].given, pair[1].suggested)],
            pair[0],
        ),
    )
    return [issue for _, issue in ranked]


def propagated_id(sentence_key: str, occurrence: Occurrence, decision: Decision) -> str:
    digest = hashlib.sha256(
        json.dumps([sentence_key, occurrence.at, decision.issue_id], ensure_ascii=False).encode()
    ).hexdigest()
    return f"pr-{digest[:12]}"
