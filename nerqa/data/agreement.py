"""Two corpora of the same text compared sentence by sentence.

Two corpora of the same text: how many sentences agree (a converter checked against an
official conversion, two annotations of one text)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from nerqa.data.corpus import Corpus


@dataclass(frozen=True)
class SentenceAgreement:
    """`matched` of the `total` reference sentences have a twin (same token sequence) in the
    other corpus, counted as a multiset so corpus order does not matter. `only_reference` and
    `only_other` list the token sequences without a twin, in corpus order."""

    matched: int
    total: int
    only_reference: tuple[tuple[str, ...], ...]
    only_other: tuple[tuple[str, ...], ...]

    @property
    def rate(self) -> float:
        return self.matched / self.total if self.total else 1.0


def sentence_agreement(reference: Corpus, other: Corpus, *, with_tags: bool = False) -> SentenceAgreement:
    """Share of `reference` sentences whose token sequence (and tags, with `with_tags`) occurs in `other`."""

    def key(sentence) -> tuple:
        return (sentence.tokens, sentence.tags) if with_tags else sentence.tokens

    ref = Counter(key(s) for s in reference.sentences)
    oth = Counter(key(s) for s in other.sentences)
    matched = sum((ref & oth).values())

    def unmatched(corpus: Corpus, mine: Counter, theirs: Counter) -> tuple:
        budget = mine - theirs
        out = []
        for sentence in corpus.sentences:
            k = key(sentence)
            if budget[k] > 0:
                budget[k] -= 1
                out.append(sentence.tokens)
        return tuple(out)

    return SentenceAgreement(matched, sum(ref.values()), unmatched(reference, ref, oth), unmatched(other, oth, ref))
