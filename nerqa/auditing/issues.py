"""The `Issue` record: one suspected label error, its types and its stable id.

Span issue types (the model is the cross-validated one; "given" spans are the corpus labels;
found by `nerqa.auditing.spans`):
- `wrong_tag`: a given span and a predicted span with the same boundaries, other type;
- `missed_span`: the model predicts an entity where the labels have none (the annotator
  probably missed it);
- `ghost_span`: a given entity no predicted span overlaps (the model does not support it);
- `span_shift`: a given span overlapped by a predicted span with other boundaries.
Corpus checks (`nerqa.auditing.corpus_checks`): `inconsistent` (one surface form, several
readings: types, or tagged and untagged) and `sparse` (entities of rare types, and one-off forms
the model doubts). A mention whose nearest neighbours in context carry another type is a
`wrong_tag` issue with the evidence `neighbours` (`nerqa.auditing.neighbours.neighbour_issues`).

Every issue's `score` is in [0, 1], lower = more likely a label error; how the evidence makes
it is `nerqa.auditing.scoring`'s job.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

from nerqa.data.corpus import Corpus

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


def describe_change(issue: Issue, tokens: Sequence[str]) -> tuple[str, str]:
    """What the issue says is there and what it suggests, in words, for a header: the types,
    or for a span shift (same type, other bounds) the two spans' words, e.g.
    `("'familial'", "'familial hypercholesterolemia'")`. `tokens`: the issue's sentence."""
    if issue.type == "span_shift" and issue.suggested_start is not None and issue.suggested_end is not None:
        new = " ".join(tokens[issue.suggested_start : issue.suggested_end])
        retyped = "" if issue.suggested == issue.given else f" {issue.suggested}"
        return f"{issue.text!r} {issue.given}", f"{new!r}{retyped}"
    return issue.given, issue.suggested
