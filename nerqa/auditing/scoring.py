"""How the audit's evidence becomes issue, sentence and question scores.

An issue's score (the model against the corpus's
other readings, the training margins, a neighbours' vote), which issue of a merged group speaks,
the ranking, and a sentence's score. Every weight, floor and threshold is a field of
`nerqa.config.ScoringSettings`, which each function here reads.

Every score is in [0, 1], lower = more likely a label error: for span issues, the mean
cross-validated probability of the given labels (entity types, B/I merged) over the disputed
words, weighed against how the same words are labeled elsewhere in the corpus
(`weigh_by_corpus`), and, where the folds kept their training dynamics, against how well the
model fit the given labels while training on them (`weigh_by_margins`); for `inconsistent`,
the share of the occurrences that read this way; for a neighbours' vote, `neighbour_score`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from nerqa.auditing.issues import ISSUE_TYPES, SPAN_TYPES, Issue
from nerqa.config import ScoringSettings
from nerqa.data.corpus import Corpus
from nerqa.data.probs import type_level
from nerqa.data.stats import surface_forms
from nerqa.data.tags import OUTSIDE

# The clause a span issue's reason gives the corpus's other readings (`weigh_by_corpus`); an
# `inconsistent` member says the same with every reading.
ELSEWHERE = "elsewhere in the corpus read "


def with_dynamics(
    pred_probs: Sequence[np.ndarray], dynamics: Sequence[np.ndarray | None], weight: float
) -> list[np.ndarray]:
    """`(1 - weight) * pred_probs + weight * the mean training-time probabilities`, per
    sentence `(n_words, n_tags)`: a word the model kept reading otherwise while it trained on
    the given label (low data-map confidence) looks more suspicious. Sentences without
    dynamics keep their pred_probs. The audit's `weight` is `ScoringSettings.dynamics_weight`.

    Args:
        pred_probs: per sentence, `(n_words, n_tags)` out-of-sample probabilities.
        dynamics: per sentence, `(records, n_words, n_tags)` training-time probabilities, or None.
        weight: the training-time share, in [0, 1].
    """
    return [
        p if d is None or not len(d) else (1 - weight) * p + weight * d.astype(np.float32).mean(axis=0)
        for p, d in zip(pred_probs, dynamics)
    ]


def weigh_by_corpus(corpus: Corpus, drafts: Sequence[Issue], scoring: ScoringSettings) -> list[Issue]:
    """Each draft span issue, scored by the model alone (its `model_score`), weighed against the
    form's other occurrences: `(agree + w * model_score) / (elsewhere + w)` with
    `w = scoring.model_weight` (see `nerqa.auditing.spans.span_issues`).

    Args:
        corpus: the audited corpus.
        drafts: span issues scored by the model alone (`model_score`).
        scoring: the scoring settings (`model_weight`).

    Returns:
        The issues with `score`, `agree`, `elsewhere` and the reason's clause on the other readings.
    """
    model_weight = scoring.model_weight
    # Given spans are labeled forms already; a missed span's tokens may be labeled nowhere.
    unlabeled = {tuple(corpus.sentences[i.index].tokens[i.start : i.end]) for i in drafts if i.given == OUTSIDE}
    forms = surface_forms(corpus, extra=unlabeled)
    issues = []
    for issue in drafts:
        tokens = corpus.sentences[issue.index].tokens
        form = forms[tuple(tokens[issue.start : issue.end])]
        # This occurrence is one of the form's own counts: leave it out. (For a span shift,
        # `agree` counts the given words labeled with these very boundaries.)
        agree = (form.unlabeled if issue.given == OUTSIDE else form.types[issue.given]) - 1
        elsewhere = form.total - 1
        if issue.type == "span_shift":
            # The model's span labeled elsewhere is evidence for its boundaries. (This covers
            # the occurrences of the words both spans cover bounded as the model has them.)
            model_form = forms.get(tuple(tokens[issue.suggested_start : issue.suggested_end]))
            elsewhere += model_form.labeled if model_form else 0
        score = (agree + model_weight * issue.model_score) / (elsewhere + model_weight)  # type: ignore[operator]
        reason = issue.reason
        if elsewhere:
            reading = "untagged" if issue.given == OUTSIDE else issue.given
            reason += f"; {ELSEWHERE}{reading} {agree} of {elsewhere} times"
        issues.append(replace(issue, score=round(score, 6), reason=reason, agree=agree, elsewhere=elsewhere))
    return issues


def word_margins(corpus: Corpus, dynamics: Sequence[np.ndarray | None], tags: Sequence[str]) -> list[np.ndarray]:
    """Each word's area under the margin, per sentence `(n_words,)` in [0, 1]: the mean over
    the training-time records `(records, n_words, n_tags)` of the probability of the word's
    given entity type (B/I merged) minus the highest other type's, mapped from [-1, 1] to
    [0, 1]. A label the model was trained towards in every epoch of every fold and still read
    below another type (a margin under 0.5) is one it could not fit; a label error shows so more
    often than a hard, right label does (Pleiss et al., 2020). Words without records score 1.

    Args:
        corpus: the audited corpus.
        dynamics: per sentence, `(records, n_words, n_tags)` training-time probabilities, or None.
        tags: the IOB tag set (the columns' order).
    """
    out = []
    for records, sentence in zip(dynamics, corpus.sentences):
        n = len(sentence)
        if records is None or not len(records) or not n:
            out.append(np.ones(n))
            continue
        flat = records.astype(np.float32).reshape(-1, records.shape[-1])
        _, [given], [p] = type_level(tags, [flat], [tuple(sentence.tags) * len(records)])
        p = p.reshape(len(records), n, -1)
        words = np.arange(n)
        own = p[:, words, given[:n]]
        p[:, words, given[:n]] = -np.inf
        out.append((own - p.max(axis=2)).mean(axis=0) / 2 + 0.5)
    return out


def weigh_by_margins(issues: Sequence[Issue], margins: Sequence[np.ndarray]) -> list[Issue]:
    """Span issues with their `margin`, the lowest `word_margins` over the words they touch
    (their span and the suggested one), and their `score` the geometric mean of the score and
    that margin: an issue is the more suspicious the less the corpus and the out-of-sample
    model support the given label, and the less the model could fit it while training on it.

    Args:
        issues: the issues (corpus checks pass through unchanged).
        margins: per sentence, `(n_words,)` margins (`word_margins`).
    """
    out = []
    for issue in issues:
        if issue.type not in SPAN_TYPES:
            out.append(issue)
            continue
        start = min(issue.start, issue.suggested_start if issue.suggested_start is not None else issue.start)
        end = max(issue.end, issue.suggested_end if issue.suggested_end is not None else issue.end)
        margin = float(margins[issue.index][start:end].min())
        reason = issue.reason
        if margin < 0.5:
            reason += (
                f"; trained on this label, the model still read another type higher (margin {margin:.2f})"
                if issue.given != OUTSIDE
                else f"; trained on these words untagged, the model still read them as an entity (margin {margin:.2f})"
            )
        score = round(float(np.sqrt(issue.score * margin)), 6)
        out.append(replace(issue, margin=round(margin, 6), score=score, reason=reason))
    return out


def neighbour_score(share: float, scoring: ScoringSettings) -> float:
    """A neighbours' vote's issue score: `1 - scoring.neighbour_weight * share`, at least 0,
    where `share` in [0, 1] is the share of the mention's neighbours that carry the other type.

    Args:
        share: the vote's share, in [0, 1].
        scoring: the scoring settings (`neighbour_weight`).
    """
    return round(max(0.0, 1.0 - scoring.neighbour_weight * share), 6)


def merge_issues(issues: Sequence[Issue]) -> list[Issue]:
    """One issue per suspicious span: issues on the same tokens of the same sentence become one.

    The model's issue (a span type, with its suggestion) leads, then the neighbours' vote, then
    `inconsistent`, then `sparse`: the suggestion comes from the evidence that read the tokens
    themselves, so a vote of similar mentions never turns the model's "no entity here" into a
    retype. The merged issue keeps the leader's type, suggestion, fields and score, joins
    the reasons, is flagged by cleanlab when any member was, and lists every check that
    flagged it in `evidence`, e.g. `("ghost_span", "inconsistent", "sparse")`. The leader's
    score already weighs what the others measure (a span issue's score counts how the same
    words read elsewhere, as `inconsistent` does, and the model's doubt, as `sparse` does), so
    taking the lowest of them would count that evidence twice.

    Args:
        issues: every check's issues, in any order.

    Returns:
        One issue per (sentence, start, end), in first-seen order.
    """
    groups: dict[tuple[int, int, int], list[Issue]] = {}
    for issue in issues:
        groups.setdefault((issue.index, issue.start, issue.end), []).append(issue)
    merged = []
    for group in groups.values():
        group.sort(key=_lead_order)
        lead = group[0]
        kinds = tuple(dict.fromkeys(k for i in group for k in (i.evidence or (i.type,))))
        reasons = _merged_reasons(group)
        merged.append(
            replace(
                lead,
                reason="; ".join(reasons),
                cleanlab=any(i.cleanlab for i in group),
                evidence=kinds,
                similar=next((i.similar for i in group if i.similar), ()),
            )
        )
    return merged


def _merged_reasons(group: Sequence[Issue]) -> list[str]:
    """The clauses of a merged group's reasons, leader first, each once: a clause two checks
    share (the training margin) is said once, and the corpus's readings once, by the
    `inconsistent` member where there is one."""
    inconsistent = any(i.type == "inconsistent" for i in group)
    clauses = [c for i in group for c in i.reason.split("; ")]
    return [c for c in dict.fromkeys(clauses) if not (inconsistent and c.startswith(ELSEWHERE))]


def _lead_order(issue: Issue) -> tuple[int, int]:
    """Which issue of a merged group leads: the model's span issues (in `ISSUE_TYPES` order),
    then the neighbours' vote (a `wrong_tag` with evidence `neighbours`), then the corpus checks."""
    if "neighbours" in issue.evidence:
        return (1, 0)
    return (0 if issue.type in SPAN_TYPES else 2, ISSUE_TYPES.index(issue.type))


def rank_issues(issues: Sequence[Issue]) -> list[Issue]:
    """Most suspicious first (lowest score; span issues before corpus checks on ties).

    Args:
        issues: the merged issues.
    """
    return sorted(issues, key=lambda i: (i.score, ISSUE_TYPES.index(i.type), i.index, i.start, i.id))


def sentence_quality(
    n_sentences: int,
    issues: list[Issue],
    cleanlab_sentence: np.ndarray,
    margins: np.ndarray | None = None,
    training_sentence: np.ndarray | None = None,
    *,
    scoring: ScoringSettings | None = None,
) -> np.ndarray:
    """Sentence label-quality scores `(n_sentences,)` in [0, 1], lower = more suspicious.

    The lowest span-issue score in the sentence (1 when it has none), with cleanlab's sentence
    score as a tie-break (`scoring.tie_break`). With `margins`, each sentence's lowest training margin
    `(n_sentences,)` (`word_margins`), a sentence scores at most the square root of it: what an
    issue would score there, its score weighed by the margins (`weigh_by_margins`), had the
    model read any word otherwise. With `training_sentence`, cleanlab's sentence score on the
    training-time probabilities `(n_sentences,)`, the score is multiplied instead by the square
    root of it, floored at `scoring.training_floor`: a sentence that both doubt comes first, and what
    the model never learnt while training on it counts beside what it reads out of sample.

    Args:
        n_sentences: the corpus's size.
        issues: the span issues (other types are skipped).
        cleanlab_sentence: cleanlab's sentence scores `(n_sentences,)`.
        margins: each sentence's lowest training margin `(n_sentences,)`, or None.
        training_sentence: cleanlab's sentence scores on the training-time probabilities, or None.
        scoring: the scoring settings (`tie_break`, `training_floor`); default `ScoringSettings()`.
    """
    scoring = scoring or ScoringSettings()
    lowest = np.ones(n_sentences)
    for issue in issues:
        if issue.type in SPAN_TYPES:
            lowest[issue.index] = min(lowest[issue.index], issue.score)
    if margins is not None:
        lowest = np.minimum(lowest, np.sqrt(margins))
    if training_sentence is not None:
        return lowest * np.sqrt(np.maximum(np.asarray(training_sentence, dtype=float), scoring.training_floor))
    return (1 - scoring.tie_break) * lowest + scoring.tie_break * np.asarray(cleanlab_sentence, dtype=float)
