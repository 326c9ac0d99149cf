"""Label issues: cleanlab scores, typed span issues, and model-free corpus checks.

Span issue types (the model is the cross-validated one; "given" spans are the corpus labels):
- `wrong_tag`: a given span and a predicted span with the same boundaries, other type;
- `missed_span`: the model predicts an entity where the labels have none (the annotator
  probably missed it);
- `ghost_span`: a given entity no predicted span overlaps (the model does not support it);
- `span_shift`: a given span overlapped by a predicted span with other boundaries.
Corpus checks: `inconsistent` (one surface form, several readings: types, or tagged and
untagged) and `sparse` (entities of rare types, and one-off forms the model doubts). A
mention whose nearest neighbours in context carry another type is a `wrong_tag` issue with the
evidence `neighbours` (`nerqa.auditing.neighbours.neighbour_issues`).

Every issue's `score` is in [0, 1], lower = more likely a label error: for span issues, the
mean cross-validated probability of the given labels (entity types, B/I merged) over the
disputed tokens, weighed against how the same tokens are labeled elsewhere in the corpus
(`span_issues`), and, where the folds kept their training dynamics, against how well the
model fit the given labels while training on them (`weigh_by_margins`); for `inconsistent`,
the share of the occurrences that read this way.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from nerqa.data.corpus import Corpus, Sentence
from nerqa.data.probs import tags_from_probs, type_level
from nerqa.data.stats import surface_forms
from nerqa.data.tags import OUTSIDE, Span, spans_from_tags
from nerqa.errors import ConfigError

SPAN_TYPES = ("wrong_tag", "missed_span", "ghost_span", "span_shift")
ISSUE_TYPES = SPAN_TYPES + ("inconsistent", "sparse")
# Each issue type in one line (`nerqa audit --help`).
ISSUE_DESCRIPTIONS = {
    "wrong_tag": "a span the model, or similar mentions, read as another type",
    "missed_span": "words the model reads as an entity, not labeled",
    "ghost_span": "a labeled span the model sees no entity in",
    "span_shift": "a labeled span the model bounds otherwise",
    "inconsistent": "the same words labeled otherwise elsewhere in the corpus",
    "sparse": "an entity of a rare type, or a one-off form the model doubts",
}
# The clause a span issue's reason gives the corpus's other readings (`_weigh_by_corpus`); an
# `inconsistent` member says the same with every reading.
_ELSEWHERE = "elsewhere in the corpus read "
# Readable prefixes of issue ids.
_ID_PREFIX = {
    "wrong_tag": "wt",
    "missed_span": "ms",
    "ghost_span": "gs",
    "span_shift": "ss",
    "inconsistent": "in",
    "sparse": "sp",
}


@dataclass(frozen=True)
class Issue:
    """One suspected label error. `start`/`end` are token offsets in sentence `index` (end
    exclusive); `given`/`suggested` are entity types or "O"; for `span_shift`,
    `suggested_start`/`suggested_end` hold the predicted boundaries. For span issues,
    `model_score` is the model's own evidence, `agree`/`elsewhere` the corpus's (see
    `span_issues`) and `margin` the training dynamics' (`weigh_by_margins`); `confidence` is
    the model's mean probability, in [0, 1], of the reading the suggestion would give the
    words it touches, so a bulk accept can keep to confident fixes. `evidence` names every
    check that flagged this span (`merge_issues`): the issue's own type first. `similar`: where
    the neighbours check flagged it, `(sentence index, text, type, cosine similarity)` of the
    similar mentions of the suggested type, nearest first."""

    id: str
    index: int
    doc_id: str | None
    start: int
    end: int
    type: str
    given: str
    suggested: str
    score: float
    text: str
    reason: str
    suggested_start: int | None = None
    suggested_end: int | None = None
    cleanlab: bool = False
    model_score: float | None = None
    agree: int | None = None
    elsewhere: int | None = None
    evidence: tuple[str, ...] = ()
    confidence: float | None = None
    margin: float | None = None
    similar: tuple[tuple[int, str, str, float], ...] = ()

    def to_dict(self) -> dict:
        record = asdict(self)
        record["evidence"] = list(self.evidence)
        record["similar"] = [
            {"index": i, "text": t, "type": label, "similarity": sim} for i, t, label, sim in self.similar
        ]
        return record

    @classmethod
    def from_dict(cls, record: dict) -> Issue:
        """The issue a `to_dict` record (an `issues.jsonl` line) describes; unknown keys are ignored."""
        values = {f.name: record[f.name] for f in fields(cls) if f.name in record}
        if "evidence" in values:
            values["evidence"] = tuple(values["evidence"] or ())
        if "similar" in values:
            values["similar"] = tuple(
                (int(r["index"]), str(r["text"]), str(r["type"]), float(r["similarity"]))
                for r in values["similar"] or ()
            )
        return cls(**values)


def sentence_keys(corpus: Corpus) -> list[str]:
    """A content key per sentence `(n_sentences,)`: its document id, its text, and which
    occurrence of that text in that document it is.

    Keys do not depend on the sentence's tags or on its position in the corpus, so they
    survive relabeling and the addition or removal of other documents.
    """
    seen: Counter[tuple[str | None, tuple[str, ...]]] = Counter()
    keys = []
    for doc_id, sentence in zip(corpus.sentence_doc_ids, corpus.sentences):
        seen[(doc_id, sentence.tokens)] += 1
        keys.append(json.dumps([doc_id, sentence.tokens, seen[(doc_id, sentence.tokens)]], ensure_ascii=False))
    return keys


def issue_id(sentence_key: str, kind: str, start: int, end: int, given: str) -> str:
    """A stable issue id from the issue's content: its sentence (`sentence_keys`), type, token
    span and given label. The same issue gets the same id in a re-audit, whatever its score
    or rank; the model's suggestion is left out, since a retrained model may suggest another
    type for the same suspicious span."""
    digest = hashlib.sha256(
        json.dumps([sentence_key, kind, start, end, given], ensure_ascii=False).encode()
    ).hexdigest()
    return f"{_ID_PREFIX.get(kind, 'x')}-{digest[:12]}"


def with_ids(issues: Sequence[Issue], corpus: Corpus) -> list[Issue]:
    """The issues with their stable ids (`issue_id`) filled in."""
    keys = sentence_keys(corpus)
    return [replace(i, id=issue_id(keys[i.index], i.type, i.start, i.end, i.given)) for i in issues]


def _scored(
    corpus: Corpus, pred_probs: Sequence[np.ndarray], tags: Sequence[str], level: str
) -> tuple[list[list[int]], list[np.ndarray]]:
    """cleanlab's inputs: each sentence's label ids and `(n_words, n_classes)` probabilities, at
    entity-type level (`types`, B/I merged) or on the IOB tags themselves (`iob`)."""
    labels = [s.tags for s in corpus.sentences]
    if level == "types":
        _, ids, probs = type_level(tags, pred_probs, labels)
    elif level == "iob":
        index = {t: i for i, t in enumerate(tags)}
        ids = [np.array([index[t] for t in s]) for s in labels]
        probs = [p / p.sum(axis=1, keepdims=True) for p in pred_probs]
    else:
        raise ConfigError(f"level must be one of types, iob, not {level!r}")
    return [list(map(int, i)) for i in ids], probs


def _flagged(ids: list[list[int]], probs: list[np.ndarray]) -> set[tuple[int, int]]:
    from cleanlab.token_classification.filter import find_label_issues

    # One process: cleanlab's pool forks this process for every call (the noise estimate makes
    # several), and a forked child inherits whatever signal handlers a library installed here.
    return set(map(tuple, find_label_issues(ids, probs, n_jobs=1)))  # type: ignore[arg-type]


def flagged_words(
    corpus: Corpus, pred_probs: Sequence[np.ndarray], tags: Sequence[str], *, level: str = "types"
) -> set[tuple[int, int]]:
    """The `(sentence, word)` pairs confident learning flags (`cleanlab_scores`' third part,
    without the scores)."""
    return _flagged(*_scored(corpus, pred_probs, tags, level))


def cleanlab_scores(
    corpus: Corpus,
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
    *,
    level: str = "types",
    method: str = "self_confidence",
) -> tuple[np.ndarray, list[np.ndarray], set[tuple[int, int]]]:
    """cleanlab's sentence scores `(n_sentences,)`, token scores, and flagged `(sentence, token)` pairs.

    `level="types"` merges B/I into entity types first (as cleanlab's tutorial advises);
    `level="iob"` scores the IOB tags themselves.
    """
    from cleanlab.token_classification.rank import get_label_quality_scores

    ids, probs = _scored(corpus, pred_probs, tags, level)
    sentence_scores, token_scores = get_label_quality_scores(ids, probs, token_score_method=method)
    return np.asarray(sentence_scores), [np.asarray(t) for t in token_scores], _flagged(ids, probs)


def span_issues(
    corpus: Corpus,
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
    *,
    flagged: set[tuple[int, int]] = frozenset(),
    model_weight: float = 1.0,
) -> list[Issue]:  # type: ignore[assignment]
    """Typed span issues from the disagreements between given and predicted spans.

    Each issue's `score` weighs the model against the corpus itself:
    `(agree + model_weight * model_score) / (elsewhere + model_weight)`, where
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
    return _weigh_by_corpus(corpus, drafts, model_weight)


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


def _weigh_by_corpus(corpus: Corpus, drafts: list[Issue], model_weight: float) -> list[Issue]:
    """Each draft's score weighed against the form's other occurrences (see `span_issues`)."""
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
            reason += f"; {_ELSEWHERE}{reading} {agree} of {elsewhere} times"
        issues.append(replace(issue, score=round(score, 6), reason=reason, agree=agree, elsewhere=elsewhere))
    return issues


def word_margins(corpus: Corpus, dynamics: Sequence[np.ndarray | None], tags: Sequence[str]) -> list[np.ndarray]:
    """Each word's area under the margin, per sentence `(n_words,)` in [0, 1]: the mean over
    the training-time records `(records, n_words, n_tags)` of the probability of the word's
    given entity type (B/I merged) minus the highest other type's, mapped from [-1, 1] to
    [0, 1]. A label the model was trained towards in every epoch of every fold and still read
    below another type (a margin under 0.5) is one it could not fit; a label error shows so more
    often than a hard, right label does (Pleiss et al., 2020). Words without records score 1."""
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
    model support the given label, and the less the model could fit it while training on it."""
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


def describe_change(issue: Issue, tokens: Sequence[str]) -> tuple[str, str]:
    """What the issue says is there and what it suggests, in words, for a header: the types,
    or for a span shift (same type, other bounds) the two spans' words, e.g.
    `("'familial'", "'familial hypercholesterolemia'")`. `tokens`: the issue's sentence."""
    if issue.type == "span_shift" and issue.suggested_start is not None and issue.suggested_end is not None:
        new = " ".join(tokens[issue.suggested_start : issue.suggested_end])
        retyped = "" if issue.suggested == issue.given else f" {issue.suggested}"
        return f"{issue.text!r} {issue.given}", f"{new!r}{retyped}"
    return issue.given, issue.suggested


def _merged_reasons(group: Sequence[Issue]) -> list[str]:
    """The clauses of a merged group's reasons, leader first, each once: a clause two checks
    share (the training margin) is said once, and the corpus's readings once, by the
    `inconsistent` member where there is one."""
    inconsistent = any(i.type == "inconsistent" for i in group)
    clauses = [c for i in group for c in i.reason.split("; ")]
    return [c for c in dict.fromkeys(clauses) if not (inconsistent and c.startswith(_ELSEWHERE))]


def _lead_order(issue: Issue) -> tuple[int, int]:
    """Which issue of a merged group leads: the model's span issues (in `ISSUE_TYPES` order),
    then the neighbours' vote (a `wrong_tag` with evidence `neighbours`), then the corpus checks."""
    if "neighbours" in issue.evidence:
        return (1, 0)
    return (0 if issue.type in SPAN_TYPES else 2, ISSUE_TYPES.index(issue.type))


def rank_issues(issues: Sequence[Issue]) -> list[Issue]:
    """Most suspicious first (lowest score; span issues before corpus checks on ties)."""
    return sorted(issues, key=lambda i: (i.score, ISSUE_TYPES.index(i.type), i.index, i.start, i.id))
