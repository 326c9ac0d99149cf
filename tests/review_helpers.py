"""A small audited corpus with known issues, for the review tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nerqa.auditing import score
from nerqa.auditing.folder import AuditResult
from nerqa.data.corpus import Corpus, Document, Sentence

TAGS = ("O", "B-D", "I-D", "B-C", "I-C")

# (document, tokens, given tags, what the model reads)
ROWS = [
    ("d1", "HD patients had muscular dystrophy .", "B-D O O B-D I-D O", "B-C O O B-D I-D O"),
    ("d1", "In HD the risk was high .", "O B-D O O O O O", "O B-C O O O O O"),
    ("d2", "HD is frequent in families .", "B-D O O O O O", "B-C O O O O O"),
    ("d2", "The tumour was large .", "O O O O O", "O B-D O O O"),
    ("d3", "A tumour suppressor gene .", "O O O O O", "O O O O O"),
    ("d3", "Breast cancer risk rose .", "B-D O O O O", "B-D I-D O O O"),
    ("d4", "No cancer was found in the family .", "O B-D O O O O O O", "O O O O O O O O"),
    ("d4", "Breast cancer again .", "B-D I-D O O", "B-D I-D O O"),
]


def one_hot(tags: list[str], confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(tags), len(TAGS)), (1 - confidence) / (len(TAGS) - 1), dtype=np.float32)
    for i, t in enumerate(tags):
        probs[i, TAGS.index(t)] = confidence
    return probs


# The same rows, with a form ("HD") twice in one sentence.
TWICE = (
    ROWS[:1]
    + [
        (
            "d1",
            "In HD , as in other HD families , risk was high .",
            "O B-D O O O O B-D O O O O O O",
            "O B-C O O O O B-C O O O O O O",
        )
    ]
    + ROWS[2:]
)


def review_corpus(rows=ROWS) -> Corpus:
    documents: dict[str, list[Sentence]] = {}
    for doc, text, given, _ in rows:
        documents.setdefault(doc, []).append(Sentence(tuple(text.split()), tuple(given.split())))
    return Corpus(tuple(Document(d, tuple(s)) for d, s in documents.items()))


def review_audit(rows=ROWS) -> AuditResult:
    corpus = review_corpus(rows)
    return score(corpus, [one_hot(model.split()) for *_, model in rows], TAGS)


# "HD" given D in sentences 0, 1 and 2 of ROWS: a group of mentions a team relabels at once.
HD = [(0, 0, 1, "HD"), (1, 1, 2, "HD"), (2, 0, 1, "HD")]


def hd_question():
    """A guideline question over the HD group (D, reading like C), as the audit writes one."""
    from nerqa.auditing.questions import Cluster, Question

    return Question(
        id="q1",
        label="D",
        suggested="C",
        mentions=list(HD),
        clusters=[Cluster(3, tuple(HD[:2])), Cluster(0, ())],
        lean=0.5,
        baseline=0.1,
        score=0.4,
        forms=[("HD", 3)],
    )


def write_review_project(folder: Path, rows=ROWS, *, questions: bool = False) -> Path:
    """`folder/corpus.jsonl` and its audit in `folder/audit`, as a user would have them (with
    `questions`, the audit holds `hd_question()`)."""
    from nerqa.auditing import write_outputs
    from nerqa.data.formats import write_corpus

    result = review_audit(rows)
    if questions:
        result.questions = [hd_question()]
    write_corpus(result.corpus, folder / "corpus.jsonl")
    write_outputs(result, folder / "audit")
    return folder


def issue_of(session, kind: str, text: str):
    """The audit's issue of `kind` on the words `text`."""
    return next(i for i in session.result.issues if i.type == kind and i.text == text)


def spans_of(corpus, index: int) -> list[tuple[int, int, str]]:
    """Sentence `index`'s spans as `(start, end, label)` tuples."""
    return [(s.start, s.end, s.label) for s in corpus.sentences[index].spans]
