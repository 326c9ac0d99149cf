"""Span issues: where the labeled spans and the model's spans disagree.

Span issues: where the labeled spans and the spans the model reads disagree, as
`wrong_tag`, `missed_span`, `ghost_span` or `span_shift` issues, each with its suggestion
and the model's own evidence (scored by `nerqa.auditing.scoring`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nerqa.auditing.issues import Issue
from nerqa.auditing.scoring import weigh_by_corpus
from nerqa.config import ScoringSettings
from nerqa.data.corpus import Corpus, Sentence
from nerqa.data.probs import tags_from_probs, type_level
from nerqa.data.tags import OUTSIDE, Span, spans_from_tags


def span_issues(
    corpus: Corpus,
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
    *,
    flagged: set[tuple[int, int]] = frozenset(),
    scoring: ScoringSettings | None = None,
) -> list[Issue]:  # type: ignore[assignment]
    """Typed span issues from the disagreements between given and predicted spans.

    Each issue's `score` weighs the model against the corpus itself:
    `(agree + model_weight * model_score) / (elsewhere + model_weight)`
    (`nerqa.auditing.scoring.weigh_by_corpus`, `model_weight` a field of `scoring`), where
    `model_score` is the mean cross-validated probability of the given labels over the
    disputed tokens, `elsewhere` counts the other occurrences of the given span's tokens
    (labeled as an entity or untagged) and `agree` those read as here; for `span_shift`,
    `elsewhere` also counts the labeled occurrences of the model's span. So the model's
    probability counts as `model_weight` occurrences: a form labeled alike in many other places is not suspicious
    because a model fails on it, and one read otherwise everywhere else is suspicious even
    where the model is unsure. With no other occurrence, `score == model_score`.
    (Why this weighing: docs/benchmarks.md.)
    """
    predicted = tags_from_probs(pred_probs, tags)
    classes, _, probs = type_level(tags, pred_probs, [s.tags for s in corpus.sentences])
    column = {c: i for i, c in enumerate(classes)}
    drafts: list[Issue] = []
    for index, (sentence, doc_id, pred_tags, p) in enumerate(
        zip(corpus.sentences, corpus.sentence_doc_ids, predicted, probs)
    ):
        drafts += _sentence_issues(index, sentence, doc_id, pred_tags, p, column, flagged)
    return weigh_by_corpus(corpus, drafts, scoring or ScoringSettings())


class _Drafts:
    """The span issues of one sentence as the model reads it, each scored by the model alone:
    `p` is its `(n_words, n_classes)` type-level probabilities, `column` a class's column in `p`."""

    def __init__(
        self,
        index: int,
        sentence: Sentence,
        doc_id: str | None,
        p: np.ndarray,
        column: dict[str, int],
        flagged: set[tuple[int, int]],
    ) -> None:
        self.index, self.sentence, self.doc_id = index, sentence, doc_id
        self.p, self.column, self.flagged = p, column, flagged
        self.given_type = [OUTSIDE] * len(sentence)
        for span in sentence.spans:
            for t in range(span.start, span.end):
                self.given_type[t] = span.label
        self.issues: list[Issue] = []

    def confidence(self, tokens: Sequence[int]) -> float:
        """The model's mean probability of the given labels of `tokens`."""
        return float(np.mean([self.p[t, self.column[self.given_type[t]]] for t in tokens])) if tokens else 1.0

    def suggestion_confidence(self, span: Span, suggested: str, other: Span | None) -> float:
        # The suggestion's reading of every word it touches: its type inside the new span, O
        # around it (a shift's dropped words, a ghost span's words).
        new = other or span
        words = sorted(set(range(span.start, span.end)) | set(range(new.start, new.end)))
        reading = [suggested if suggested != OUTSIDE and new.start <= t < new.end else OUTSIDE for t in words]
        return float(np.mean([self.p[t, self.column[r]] for t, r in zip(words, reading)]))

    def add(
        self,
        kind: str,
        span: Span,
        given: str,
        suggested: str,
        tokens: Sequence[int],
        reason: str,
        other: Span | None = None,
    ) -> None:
        model_score = round(self.confidence(tokens), 6)
        self.issues.append(
            Issue(
                id="",
                index=self.index,
                doc_id=self.doc_id,
                start=span.start,
                end=span.end,
                type=kind,
                given=given,
                suggested=suggested,
                score=model_score,
                text=self.sentence.span_text(span),
                reason=reason,
                suggested_start=other.start if other else None,
                suggested_end=other.end if other else None,
                cleanlab=any((self.index, t) in self.flagged for t in tokens),
                model_score=model_score,
                confidence=round(self.suggestion_confidence(span, suggested, other), 6),
            )
        )

    def given_span(self, span: Span, guessed: Sequence[Span]) -> None:
        """A labeled span the model reads with another type, other bounds, or not at all."""
        twin = next((g for g in guessed if (g.start, g.end) == (span.start, span.end)), None)
        words = range(span.start, span.end)
        if twin is not None:
            if twin.label != span.label:
                # How sure the model is of its reading is the issue's `confidence`: one figure.
                reason = f"labeled {span.label}; the model reads {twin.label}"
                self.add("wrong_tag", span, span.label, twin.label, words, reason)
            return
        overlapping = [g for g in guessed if g.start < span.end and span.start < g.end]
        if not overlapping:
            reason = f"labeled {span.label}; the model sees no entity here"
            self.add("ghost_span", span, span.label, OUTSIDE, words, reason)
            return
        best = max(overlapping, key=lambda g: min(g.end, span.end) - max(g.start, span.start))
        disputed = sorted(set(words) ^ set(range(best.start, best.end)))
        reason = f"the model's span is {' '.join(self.sentence.tokens[best.start : best.end])!r}"
        self.add("span_shift", span, span.label, best.label, disputed, reason, best)


def _sentence_issues(
    index: int,
    sentence: Sentence,
    doc_id: str | None,
    pred_tags: Sequence[str],
    p: np.ndarray,
    column: dict[str, int],
    flagged: set[tuple[int, int]],
) -> list[Issue]:
    """The model's side of sentence `index`'s span issues (`_Drafts`), given spans first, then
    the spans the model reads where nothing is labeled."""
    drafts = _Drafts(index, sentence, doc_id, p, column, flagged)
    given = sentence.spans
    guessed = spans_from_tags(pred_tags)
    for span in given:
        drafts.given_span(span, guessed)
    for guess in guessed:
        if not any(s.start < guess.end and guess.start < s.end for s in given):
            reason = f"not labeled; the model reads {guess.label}"
            drafts.add("missed_span", guess, OUTSIDE, guess.label, range(guess.start, guess.end), reason)
    return drafts.issues
