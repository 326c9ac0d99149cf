"""The unlabeled pool, streamed from raw text, files or a corpus.

The unlabeled pool: sentences streamed from raw text, a folder of files or a corpus, and the
sentences already labeled (left out by content).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nerqa.data.corpus import Corpus, Document, text_key
from nerqa.data.formats import ReadOptions
from nerqa.errors import NerqaError

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class PoolSentence:
    """One unlabeled sentence: its tokens, its document's id and where it was read
    (`position`: its number in the pool, counting from 0, repeats and labeled ones included;
    `document`: its document's number in the pool)."""

    tokens: tuple[str, ...]
    doc_id: str | None
    position: int
    document: int = 0


def pool_sentences(documents: Iterable[Document]) -> Iterator[tuple[int, PoolSentence]]:
    """`(document number, sentence)` for every sentence of a stream of documents."""
    position = 0
    for number, document in enumerate(documents):
        for sentence in document.sentences:
            yield number, PoolSentence(sentence.tokens, document.id, position, number)
            position += 1


@dataclass
class Choice:
    """A chosen sentence: its rank in the batch (1 = most worth annotating), score, reason,
    the model's tags (its pre-annotation; all `O` at a cold start) and its cluster."""

    sentence: PoolSentence
    score: float
    reason: str
    tags: tuple[str, ...]
    rank: int = 0
    cluster: int | None = None
    cluster_size: int = 1


def open_pool(
    path: str | Path, *, format: str | None = None, options: ReadOptions | None = None, text: bool = False
) -> tuple[Iterator[Document], int]:
    """The pool's documents and how many there are.

    Raw text (`text=True`, or a path whose corpus format cannot be detected) streams a line
    (or, in a folder, a `.txt` file) at a time; a corpus in any format is read whole, its
    labels ignored. Raises `NerqaError` naming the path when it holds no text.
    """
    from nerqa.data.formats import (
        count_text_documents,
        detect_format,
        read_corpus,
        read_text_documents,
    )
    from nerqa.errors import FormatDetectionError

    path = Path(path)
    if not path.exists():
        raise NerqaError(f"{path}: no such file or folder")
    if not text and format is None:
        try:
            format = detect_format(path)
        except FormatDetectionError:
            text = True
    if text:
        total = count_text_documents(path)
        if total == 0:
            raise NerqaError(f"{path}: the pool is empty (no text)")
        return read_text_documents(path), total
    corpus = read_corpus(path, format, options=options or ReadOptions())
    return iter(corpus.documents), len(corpus.documents)


def labeled_keys(corpus: Corpus) -> set[int]:
    """The `text_key`s of a labeled corpus's sentences, for `select(skip=...)`."""
    return {text_key(s.tokens) for s in corpus.sentences}
