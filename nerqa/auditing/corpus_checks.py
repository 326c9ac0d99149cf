"""Corpus checks: forms labeled more than one way, rare types and doubted one-off forms.

Corpus checks: forms labeled more than one way (`inconsistent`) and rare types or once-seen
forms the model doubts (`sparse`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from nerqa.auditing.issues import Issue
from nerqa.config import ScoringSettings
from nerqa.data.corpus import Corpus
from nerqa.data.probs import type_level
from nerqa.data.stats import surface_forms
from nerqa.data.tags import OUTSIDE, Span


def inconsistent_issues(corpus: Corpus, *, casefold: bool = False) -> list[Issue]:
    """Occurrences of a surface form that read otherwise than its most common reading."""
    issues: list[Issue] = []
    doc_ids = corpus.sentence_doc_ids
    forms = surface_forms(corpus, casefold=casefold)
    # Where each labeled occurrence is, by form and type.
    places: dict[tuple[str, ...], list[tuple[int, Span]]] = {}
    for index, sentence in enumerate(corpus.sentences):
        for span in sentence.spans:
            key = tuple(t.casefold() if casefold else t for t in sentence.tokens[span.start : span.end])
            places.setdefault(key, []).append((index, span))
    for key, form in forms.items():
        readings = Counter(form.types)
        if form.unlabeled:
            readings[OUTSIDE] = form.unlabeled
        if len(readings) < 2:
            continue
        majority, top = readings.most_common(1)[0]
        summary = ", ".join(f"{t} {n}" for t, n in readings.most_common())
        minority = [(index, span) for index, span in places[key] if readings[span.label] < top]
        if readings.get(OUTSIDE, top) < top:
            minority += [(index, Span(start, start + len(key), OUTSIDE)) for index, start in form.unlabeled_at]
        for index, span in minority:
            issues.append(
                Issue(
                    id="",
                    index=index,
                    doc_id=doc_ids[index],
                    start=span.start,
                    end=span.end,
                    type="inconsistent",
                    given=span.label,
                    suggested=majority,
                    score=round(readings[span.label] / form.total, 6),
                    text=form.text,
                    reason=f"{form.text!r} reads {summary} across the corpus",
                )
            )
    return issues


def sparse_issues(
    corpus: Corpus,
    pred_probs: Sequence[np.ndarray] | None = None,
    tags: Sequence[str] = (),
    *,
    scoring: ScoringSettings | None = None,
) -> list[Issue]:
    """Entities of rare types (fewer than `scoring.rare_count` entities, or under
    `scoring.rare_share` of them), and one-off surface forms the model gives less than
    `scoring.one_off_doubt` probability. `pred_probs`: `(n_words, n_tags)` per sentence, columns
    in `tags` order; without them only rare types are issues, scored by their share."""
    scoring = scoring or ScoringSettings()
    counts = corpus.entity_counts()
    total = sum(counts.values()) or 1
    rare = {t for t, n in counts.items() if n < scoring.rare_count or n / total < scoring.rare_share}
    forms = surface_forms(corpus)
    probs = None
    if pred_probs is not None:
        classes, _, probs = type_level(tags, pred_probs, [s.tags for s in corpus.sentences])
    issues = []
    for index, (sentence, doc_id) in enumerate(zip(corpus.sentences, corpus.sentence_doc_ids)):
        for span in sentence.spans:
            key = sentence.tokens[span.start : span.end]
            confidence = (
                float(probs[index][span.start : span.end, classes.index(span.label)].mean())
                if probs is not None
                else None
            )
            if span.label in rare:
                reason = f"{span.label} has only {counts[span.label]} entities ({counts[span.label] / total:.1%})"
                score = confidence if confidence is not None else counts[span.label] / total
            elif forms[key].total == 1 and confidence is not None and confidence < scoring.one_off_doubt:
                reason, score = f"{sentence.span_text(span)!r} occurs once and the model doubts it", confidence
            else:
                continue
            issues.append(
                Issue(
                    id="",
                    index=index,
                    doc_id=doc_id,
                    start=span.start,
                    end=span.end,
                    type="sparse",
                    given=span.label,
                    suggested=span.label,
                    score=round(score, 6),
                    text=sentence.span_text(span),
                    reason=reason,
                )
            )
    return issues
