"""Small corpora and helpers the tests share: a toy corpus a tiny model learns, sample files
of each format, bad inputs with the errors they must raise, and corpus edits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nerqa.config import TrainConfig
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import parse_text

# A corpus a tiny model learns in a few epochs: "cancer" and "syndrome" phrases are diseases.
LINES = []

for i, (first, second) in enumerate(
    [("breast", "cancer"), ("colon", "cancer"), ("marfan", "syndrome"), ("ovarian", "cancer")] * 6
):
    LINES.append(f"the\tO\n{first}\tB-Disease\n{second}\tI-Disease\nrisk\tO\nwas\tO\nnormal\tO\n.\tO\n")
    LINES.append("we\tO\nfound\tO\nno\tO\nmutation\tO\nin\tO\nthe\tO\nfamily\tO\n.\tO\n")

TOY = parse_text("\n".join(LINES), "conll")


def fast_config(model: Path, **overrides) -> TrainConfig:
    settings = dict(
        model=str(model),
        epochs=12,
        batch_size=8,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        early_stopping_patience=None,
        tensorboard=False,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


CONLL = """-DOCSTART-\t111

Familial\tO
adenomatous\tB-Disease
polyposis\tI-Disease
.\tO

-DOCSTART-\t222

Breast\tB-Disease
cancer\tI-Disease
risk\tO
"""

NCBI_SAMPLE = (
    '111\tThe <category="SpecificDisease">Huntington disease</category> gene.\t'
    'Patients with <category="Modifier">HD</category> (ref. 3) and '
    '<category="DiseaseClass">tumours</category>-like lesions were seen. No cases of '
    '<category="SpecificDisease">HD</category> remained.\n'
)

PUBTATOR = """111|t|The Huntington disease gene.
111|a|Patients with HD (ref. 3) and tumours were seen.
111\t4\t22\tHuntington disease\tSpecificDisease\tD006816
111\t43\t45\tHD\tModifier\tD006816
111\tCID\tD1\tD2

222|t|Colon cancer
222|a|
222\t0\t12\tColon cancer\tDiseaseClass\t-
"""

BAD = [
    ("conll", "good\tO\nbad-line-without-tag\n", 2, "expected a token and a tag"),
    ("conll", "a\tO\nb\tI-Disease\n\nc\tB-Disease\n", 2, "'I-Disease' follows 'O'"),
    ("conll", "a\tO\nb\tBX\n", 2, "invalid tag 'BX'"),
    ("ncbi", '1\tTitle\tA <category="Modifier">b c.\n', 1, "never closed"),
    ("ncbi", "1\tTitle\tA b</category> c.\n", 1, "closes no mention"),
    ("ncbi", "1\tonly a title\n", 1, "expected PMID<TAB>title<TAB>abstract"),
    ("pubtator", "1|t|Short title\n1|a|Text.\n1\t5\t99\tx\tDisease\t-\n", 3, "outside the text"),
    ("pubtator", "1|t|Short title\n1|a|Text.\n1\t0\t5\tLong\tDisease\t-\n", 3, "does not match the text"),
    ("pubtator", "1|t|T\n1\tx\ty\tz\tDisease\n", 2, "must be integers"),
    ("pubtator", "1|t|Colon cancer\n1\t0\t12\tColon cancer\tA\n1\t6\t12\tcancer\tB\n", 1, "entities overlap"),
    (
        "jsonl",
        '{"text": "ab", "spans": []}\n{"text": "ab", "spans": [{"start": 0, "end": 9, "label": "X"}]}\n',
        2,
        "outside the text",
    ),
    ("jsonl", '{"text": "ab"}\n{not json}\n', 2, "invalid JSON"),
    ("jsonl", '{"tokens": ["a", "b"], "tags": ["O"]}\n', 1, "1 tags for 2 tokens"),
]


def with_doc_ids(corpus: Corpus) -> Corpus:
    """TOY's sentences grouped two by two into documents with ids."""
    sentences = corpus.sentences
    return Corpus(tuple(Document(f"doc{i // 2}", tuple(sentences[i : i + 2])) for i in range(0, len(sentences), 2)))


def relabel(corpus: Corpus, index: int, position: int, tag: str) -> Corpus:
    """A copy of the corpus with one tag changed."""
    documents, n = [], 0
    for doc in corpus.documents:
        sentences = []
        for sentence in doc.sentences:
            if n == index:
                tags = list(sentence.tags)
                tags[position] = tag
                sentence = Sentence(sentence.tokens, tuple(tags))
            sentences.append(sentence)
            n += 1
        documents.append(Document(doc.id, tuple(sentences)))
    return Corpus(tuple(documents))


def varied_corpus() -> Corpus:
    """42 distinct sentences in the tiny model's vocabulary: 30 with a disease phrase, 12 without."""
    sentences = []
    for first in "breast colon ovarian marfan cystic huntington".split():
        for second in "cancer syndrome tumour carcinoma disease".split():
            sentences.append(
                Sentence(
                    ("the", first, second, "risk", "was", "normal", "."),
                    ("O", "B-Disease", "I-Disease", "O", "O", "O", "O"),
                )
            )
    for what in ("mutation", "mutations", "gene"):
        for where in ("family", "families", "cells", "patients"):
            sentences.append(Sentence(("we", "found", "no", what, "in", "the", where, "."), ("O",) * 8))
    order = np.random.default_rng(0).permutation(len(sentences))
    return Corpus(tuple(Document(f"doc{i}", (sentences[j],)) for i, j in enumerate(order)))


VARIED = varied_corpus()
