"""spaCy DocBin files (`.spacy`), what `spacy train` reads.

spaCy DocBin files (`.spacy`, what `spacy train` reads): one document per Doc, its
sentences from the Doc's sentence boundaries (one sentence where it has none), its entities as
IOB2 tags, its text and token offsets kept. Written back the same way, so `spacy train` can
train on the file and the entities read back unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.tags import spans_from_tags
from nerqa.errors import CorpusFormatError, NerqaError
from nerqa.files import atomic_write

SUFFIX = ".spacy"


def _vocab():
    from spacy.vocab import Vocab

    return Vocab()


def read(path: Path) -> Corpus:
    """The documents of a DocBin file, entities as spaCy itself reads them (`doc.ents`).

    The token IOB a DocBin stores can disagree with itself (`B-Disease` then `I-Gene`); spaCy
    reads the span from its `B` token's type, and so does nerqa. Refused in one line: a file
    with no documents, and a document whose entities are only in `doc.spans` (span groups may
    overlap, which IOB tags cannot hold).
    """
    from spacy.tokens import DocBin

    try:
        docs = list(DocBin().from_disk(path).get_docs(_vocab()))
    except FileNotFoundError:
        raise NerqaError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError) as error:
        raise NerqaError(f"{path}: not a spaCy DocBin file: {error}") from None
    documents = []
    for number, doc in enumerate(docs, start=1):
        try:
            entities = doc.ents
        except ValueError as error:  # spaCy's E093: token IOB with an I that no B opens
            raise CorpusFormatError(
                path, None, f"document {number}: its token IOB is not a valid sequence ({str(error).splitlines()[0]})"
            ) from None
        groups = ", ".join(f"{key!r}: {len(group)}" for key, group in doc.spans.items() if len(group))
        if groups and not entities:
            raise CorpusFormatError(
                path,
                None,
                f"document {number}: its entities are in doc.spans ({groups}), not doc.ents; nerqa reads doc.ents "
                "(span groups may overlap, IOB tags cannot)",
            )
        tags = ["O"] * len(doc)
        for entity in entities:
            tags[entity.start : entity.end] = [f"B-{entity.label_}"] + [f"I-{entity.label_}"] * (len(entity) - 1)
        sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
        built = []
        for sent in sentences:
            own = tags[sent.start : sent.end]
            # A span that starts before the sentence boundary continues as I- here: it starts anew.
            if own and own[0].startswith("I-"):
                own[0] = "B-" + own[0][2:]
            built.append(
                Sentence(
                    tuple(t.text for t in sent),
                    tuple(own),
                    tuple((t.idx, t.idx + len(t.text)) for t in sent),
                )
            )
        if built and len(doc):
            doc_id = doc.user_data.get("id") if isinstance(doc.user_data, dict) else None
            documents.append(Document(str(doc_id) if doc_id is not None else str(number), tuple(built), doc.text))
    if not documents:
        raise CorpusFormatError(path, None, "the DocBin holds no documents with tokens")
    return Corpus(tuple(documents), name=path.stem)


def write(corpus: Corpus, path: Path | IO) -> list[Path | IO]:
    """`corpus` as a DocBin at `path`: a Doc per document with its sentence boundaries and
    entities; spaces from the document text where the offsets give them, else one between tokens."""
    from spacy.tokens import Doc, DocBin, Span

    vocab = _vocab()
    docbin = DocBin(store_user_data=True)
    for document in corpus.documents:
        words, starts, tags = [], [], []
        for sentence in document.sentences:
            for i, token in enumerate(sentence.tokens):
                words.append(token)
                starts.append(i == 0)
                tags.append(sentence.tags[i])
        text = document.text
        if text is not None and all(s.offsets is not None for s in document.sentences):
            # spaCy keeps one optional space after each token: the one the text has there.
            spaces = [text[end : end + 1].isspace() for s in document.sentences for _, end in s.offsets]
        else:
            spaces = [i + 1 < len(words) for i in range(len(words))]
        if not words:
            continue
        doc = Doc(vocab, words=words, spaces=spaces, sent_starts=starts)
        doc.ents = [Span(doc, s.start, s.end, label=s.label) for s in spans_from_tags(tags)]
        if document.id is not None:
            doc.user_data["id"] = document.id
        docbin.add(doc)
    with atomic_write(path, binary=True) as stream:
        stream.write(docbin.to_bytes())
    return [path]
