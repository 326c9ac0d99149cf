"""A corpus made of several files, joined for one audit and split back.

A corpus made of several files (train, dev and test; a dataset's splits), audited as one.

`join` puts the files' documents one after another in one `Corpus` and returns, beside it, the
`Part` each file became: its name and how many documents and sentences it holds. Documents are
never split or merged across files, so folds grouped by document keep each one whole, and
`split` cuts a corpus of the same shape (the audited one, or the one `apply` corrected) back
into the files, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nerqa.data.corpus import Corpus
from nerqa.errors import NerqaError


@dataclass(frozen=True)
class Part:
    """One file of a joined corpus: `name` (the file's name, or a dataset's split), and its
    `documents` and `sentences` counts, in corpus order."""

    name: str
    documents: int
    sentences: int

    def to_dict(self) -> dict:
        return {"name": self.name, "documents": self.documents, "sentences": self.sentences}


def join(corpora: Mapping[str, Corpus], *, name: str = "") -> tuple[Corpus, tuple[Part, ...]]:
    """One corpus holding every document of `corpora` (name -> corpus), in the mapping's order,
    and the parts it is made of. `name` names the joined corpus (default: the parts' names
    joined by `+`).

    Args:
        corpora: file or split name -> corpus, in the order to join them.
        name: the joined corpus's name (default: the names joined by `+`).

    Returns:
        The joined corpus and its parts (`Part`: name, documents, sentences), in order.
    """
    documents = tuple(doc for corpus in corpora.values() for doc in corpus.documents)
    parts = tuple(Part(key, len(c.documents), len(c)) for key, c in corpora.items())
    return Corpus(documents, name=name or "+".join(corpora)), parts


def split(corpus: Corpus, parts: Sequence[Part]) -> dict[str, Corpus]:
    """`corpus` cut back into its parts (name -> corpus, in order), by document counts. Fails
    when the corpus does not have the parts' shape (another number of documents or sentences).

    Args:
        corpus: a corpus of the joined corpus's shape (e.g. with decisions applied).
        parts: the parts `join` returned.

    Raises:
        NerqaError: the corpus has another number of documents or sentences.
    """
    if sum(p.documents for p in parts) != len(corpus.documents):
        raise NerqaError(
            f"the corpus has {len(corpus.documents):,} documents, its parts {sum(p.documents for p in parts):,}"
        )
    out: dict[str, Corpus] = {}
    start = 0
    for part in parts:
        piece = Corpus(corpus.documents[start : start + part.documents], name=_stem(part.name))
        if len(piece) != part.sentences:
            raise NerqaError(f"{part.name}: {len(piece):,} sentences where the audit had {part.sentences:,}")
        out[part.name] = piece
        start += part.documents
    return out


def part_index(parts: Sequence[Part]) -> list[int]:
    """The part (an index into `parts`) of each sentence of the joined corpus, in order."""
    return [i for i, part in enumerate(parts) for _ in range(part.sentences)]


def parts_from_dicts(records: Sequence[Mapping]) -> tuple[Part, ...]:
    """Parts as `Part.to_dict` wrote them (an audit's summary.json)."""
    return tuple(Part(str(r["name"]), int(r["documents"]), int(r["sentences"])) for r in records)


def _stem(name: str) -> str:
    """A file name without its last suffix (`train.txt` -> `train`), the name its corpus carries."""
    head, dot, _ = name.rpartition(".")
    return head if dot and head else name
