"""The corpus model: documents hold sentences, sentences hold tokens with IOB2 tags.

Every reader returns a `Corpus`, every writer takes one. Offsets are optional: formats that
carry raw text (NCBI inline, PubTator, character-span JSONL) keep the document text and each
token's character span in it, so they can be written back without re-tokenising; token
formats (CoNLL, NeMo, token JSONL) have neither.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from nerqa.data.tags import OUTSIDE, Span, spans_from_tags, split_tag


@dataclass(frozen=True)
class Sentence:
    """One sentence: `tokens[i]` carries IOB2 tag `tags[i]`.

    `offsets[i]` is the `(start, end)` character span of token i in its document's `text`
    (end exclusive), or `offsets` is `None` when the source had no raw text.
    """

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...] | None = None
    # Where the sentence came from, for a writer that puts it back there: a dataset row's other
    # columns (`nerqa.data.formats.hf.Row`). Not part of the sentence's identity.
    source: Any = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.tags)} tags")
        if self.offsets is not None and len(self.offsets) != len(self.tokens):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.offsets)} offsets")

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def spans(self) -> list[Span]:
        """Entity spans in token offsets."""
        return spans_from_tags(self.tags)

    def span_text(self, span: Span) -> str:
        """The surface form of `span`: tokens joined by single spaces.

        Args:
            span: token offsets in this sentence (`end` exclusive).
        """
        return " ".join(self.tokens[span.start : span.end])


@dataclass(frozen=True)
class Document:
    """A document (an abstract, a record). `id` is `None` when the source names none.

    `text` is the raw text that sentence offsets index into, when the source had one.
    `sections` are `(start, end)` character spans of its passages (a title and an abstract):
    sentences never cross a section boundary, and writers that keep passages apart
    (PubTator `|t|`/`|a|`, the NCBI inline columns) use them.
    """

    id: str | None
    sentences: tuple[Sentence, ...]
    text: str | None = None
    sections: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Corpus:
    """An ordered collection of documents.

    Sources without document structure (plain CoNLL, NeMo) give one id-less document per
    sentence, so grouping by document never merges unrelated sentences.
    """

    documents: tuple[Document, ...]
    name: str = field(default="", compare=False)

    @classmethod
    def from_sentences(
        cls, sentences: Iterable[Sentence], doc_ids: Iterable[str | None] | None = None, *, name: str = ""
    ) -> Corpus:
        """Build a corpus from sentences; consecutive sentences with one non-None doc id share a document."""
        sentences = list(sentences)
        ids = list(doc_ids) if doc_ids is not None else [None] * len(sentences)
        if len(ids) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(ids)} document ids")
        documents: list[Document] = []
        group: list[Sentence] = []
        group_id: str | None = None
        for sentence, doc_id in zip(sentences, ids):
            if group and (doc_id is None or doc_id != group_id):
                documents.append(Document(group_id, tuple(group)))
                group = []
            group.append(sentence)
            group_id = doc_id
        if group:
            documents.append(Document(group_id, tuple(group)))
        return cls(tuple(documents), name=name)

    @cached_property
    def sentences(self) -> tuple[Sentence, ...]:
        """All sentences in corpus order."""
        return tuple(s for doc in self.documents for s in doc.sentences)

    @cached_property
    def sentence_doc_ids(self) -> tuple[str | None, ...]:
        """The document id of each sentence in `sentences` (same order)."""
        return tuple(doc.id for doc in self.documents for _ in doc.sentences)

    @cached_property
    def sentence_doc_index(self) -> tuple[int, ...]:
        """The index in `documents` of each sentence's document (a grouping key even without ids)."""
        return tuple(i for i, doc in enumerate(self.documents) for _ in doc.sentences)

    def __iter__(self) -> Iterator[Sentence]:
        return iter(self.sentences)

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def n_tokens(self) -> int:
        return sum(len(s) for s in self.sentences)

    @cached_property
    def entity_types(self) -> tuple[str, ...]:
        """Entity types present, sorted."""
        types = {split_tag(t)[1] for s in self.sentences for t in s.tags if t != OUTSIDE}
        return tuple(sorted(t for t in types if t is not None))

    @cached_property
    def tag_set(self) -> tuple[str, ...]:
        """IOB2 tags in a stable order: `O`, then `B-T`, `I-T` for each type, sorted by type."""
        return tag_set_for_types(self.entity_types)

    def entity_counts(self) -> Counter[str]:
        """Number of entities per type."""
        return Counter(span.label for s in self.sentences for span in s.spans)

    def fingerprint(self) -> str:
        """A hash (16 hex digits) of what an audit of this corpus depends on: every sentence's
        tokens and tags, and the document each sentence belongs to (id and position).

        Two corpora with one tag changed have different fingerprints; the corpus `name` and
        character offsets do not count.
        """
        digest = hashlib.sha256()
        for doc_index, doc_id, sentence in zip(self.sentence_doc_index, self.sentence_doc_ids, self.sentences):
            digest.update(json.dumps([doc_index, doc_id, sentence.tokens, sentence.tags]).encode())
            digest.update(b"\n")
        return digest.hexdigest()[:16]

    def merged(self, *others: Corpus) -> tuple[Corpus, int]:
        """This corpus with the documents of `others` appended (an annotated batch merged into
        the labeled corpus). A sentence whose `text_key` is already here is left out (a batch
        merged twice adds nothing), and so is a document left with no sentence.

        Returns the merged corpus and the number of sentences left out.
        """
        seen = {text_key(s.tokens) for s in self.sentences}
        documents = list(self.documents)
        left_out = 0
        for other in others:
            for document in other.documents:
                kept = []
                for sentence in document.sentences:
                    key = text_key(sentence.tokens)
                    if key in seen:
                        left_out += 1
                    else:
                        seen.add(key)
                        kept.append(sentence)
                if len(kept) == len(document.sentences):
                    documents.append(document)
                elif kept:
                    # The document text no longer matches its sentences: keep tokens and offsets only.
                    sentences = tuple(Sentence(s.tokens, s.tags, source=s.source) for s in kept)
                    documents.append(Document(document.id, sentences))
        return Corpus(tuple(documents), name=self.name), left_out

    def map_types(self, mapping: dict[str, str]) -> Corpus:
        """A copy with entity types renamed (`mapping` may merge several types into one).

        Args:
            mapping: old type -> new type; types not in it stay.
        """

        def rename(tag: str) -> str:
            prefix, kind = split_tag(tag)
            return tag if kind is None else f"{prefix}-{mapping.get(kind, kind)}"

        documents = tuple(
            Document(
                doc.id,
                tuple(Sentence(s.tokens, tuple(rename(t) for t in s.tags), s.offsets, s.source) for s in doc.sentences),
                doc.text,
                doc.sections,
            )
            for doc in self.documents
        )
        return Corpus(documents, name=self.name)


def text_key(tokens: Sequence[str]) -> int:
    """A 64-bit key of a sentence's characters without whitespace: equal for a repeated
    sentence, and for one sentence tokenised two ways (a corpus's tokens and a tool's)."""
    return int.from_bytes(hashlib.blake2b("".join(tokens).encode("utf-8"), digest_size=8).digest(), "big")


def tag_set_for_types(types: Sequence[str]) -> tuple[str, ...]:
    """`("O", "B-A", "I-A", "B-B", "I-B", ...)` for sorted `types`."""
    return (OUTSIDE,) + tuple(f"{p}-{t}" for t in sorted(types) for p in ("B", "I"))


def label_ids(corpus: Corpus, tags: Sequence[str], *, what: str = "") -> list[list[int]]:
    """Per sentence, the index in `tags` of each word's tag: `[[int, ...], ...]`.

    A tag outside `tags` raises `NerqaError` naming `what` corpus (e.g. "dev")."""
    from nerqa.errors import NerqaError

    index = {t: i for i, t in enumerate(tags)}
    unknown = sorted(set(corpus.tag_set) - set(index))
    if unknown:
        raise NerqaError(
            f"the {what + ' ' if what else ''}corpus has tags the training corpus lacks: {', '.join(unknown)}"
        )
    return [[index[t] for t in s.tags] for s in corpus.sentences]
