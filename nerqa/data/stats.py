"""Corpus statistics as data.

Corpus statistics as data: sizes, entities per type, sentence lengths, surface forms.

`surface_forms` is also the basis of the audit's model-free `inconsistent` check: a surface
form (an entity's token sequence) labeled with more than one type, or labeled in some places
and left untagged in others.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from nerqa.data.corpus import Corpus
from nerqa.data.tags import OUTSIDE


@dataclass
class SurfaceForm:
    """How one surface form (a tuple of tokens) is labeled across a corpus.

    `types` counts its labeled occurrences per entity type; `unlabeled` counts occurrences
    whose tokens are all tagged `O`; `unlabeled_at` holds `(sentence index, token start)` of
    those occurrences.
    """

    tokens: tuple[str, ...]
    types: Counter[str] = field(default_factory=Counter)
    unlabeled: int = 0
    unlabeled_at: list[tuple[int, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    @property
    def labeled(self) -> int:
        return sum(self.types.values())

    @property
    def total(self) -> int:
        return self.labeled + self.unlabeled

    @property
    def is_multi_type(self) -> bool:
        return len(self.types) > 1


def surface_forms(
    corpus: Corpus, *, casefold: bool = False, extra: Iterable[tuple[str, ...]] = ()
) -> dict[tuple[str, ...], SurfaceForm]:
    """Every labeled surface form with its per-type counts and its untagged occurrences.

    `extra` adds token sequences that need not be labeled anywhere (e.g. spans a model
    predicts), so their untagged occurrences are counted too. An occurrence is untagged when
    the same token sequence appears with every token tagged `O` (occurrences overlapping
    another entity count as neither). With `casefold`, forms are compared in lower case. Runs in
    O(tokens x distinct form lengths).
    """
    norm = (lambda t: t.casefold()) if casefold else (lambda t: t)
    forms: dict[tuple[str, ...], SurfaceForm] = {}
    for sentence in corpus.sentences:
        for span in sentence.spans:
            key = tuple(norm(t) for t in sentence.tokens[span.start : span.end])
            forms.setdefault(key, SurfaceForm(key)).types[span.label] += 1
    for key in extra:
        key = tuple(norm(t) for t in key)
        if key:
            forms.setdefault(key, SurfaceForm(key))
    # Looked up by length: per position, one set lookup per form length there is, however many
    # forms start with its token (a frequent word can start thousands in a large corpus).
    lengths = sorted({len(key) for key in forms})
    for index, sentence in enumerate(corpus.sentences):
        tokens = [norm(t) for t in sentence.tokens]
        # run[i]: how many tokens from i on are tagged O in a row.
        run = [0] * (len(tokens) + 1)
        for i in range(len(tokens) - 1, -1, -1):
            run[i] = run[i + 1] + 1 if sentence.tags[i] == OUTSIDE else 0
        for start in range(len(tokens)):
            for length in lengths:
                if length > run[start]:
                    break
                form = forms.get(tuple(tokens[start : start + length]))
                if form is not None:
                    form.unlabeled += 1
                    form.unlabeled_at.append((index, start))
    return forms


@dataclass(frozen=True)
class TypeStats:
    """Entities of one type: `count`, `share` of all entities (0-1), mean length in tokens,
    number of distinct surface forms, and the most frequent forms with their counts."""

    name: str
    count: int
    share: float
    mean_tokens: float
    distinct_forms: int
    top_forms: tuple[tuple[str, int], ...]
    rare: bool


@dataclass(frozen=True)
class CorpusStats:
    """Everything `nerqa stats` shows. Sentence lengths are in tokens."""

    n_documents: int
    n_sentences: int
    n_tokens: int
    n_entities: int
    types: tuple[TypeStats, ...]
    length_percentiles: dict[str, float]
    length_histogram: tuple[tuple[str, int], ...]
    multi_type_forms: tuple[SurfaceForm, ...]
    partly_unlabeled_forms: tuple[SurfaceForm, ...]


_LENGTH_BINS = (1, 11, 21, 31, 51, 81, 129, 257)


def corpus_stats(
    corpus: Corpus, *, top: int = 10, rare_count: int = 50, rare_share: float = 0.02, casefold: bool = False
) -> CorpusStats:
    """Compute corpus statistics.

    A type is rare when it has fewer than `rare_count` entities or less than `rare_share` of
    all entities. `top` bounds each list of surface forms.
    """
    counts = corpus.entity_counts()
    n_entities = sum(counts.values())
    lengths_by_type: dict[str, list[int]] = defaultdict(list)
    forms_by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for sentence in corpus.sentences:
        for span in sentence.spans:
            lengths_by_type[span.label].append(span.end - span.start)
            forms_by_type[span.label][sentence.span_text(span)] += 1
    types = tuple(
        TypeStats(
            name=name,
            count=count,
            share=count / n_entities,
            mean_tokens=float(np.mean(lengths_by_type[name])),
            distinct_forms=len(forms_by_type[name]),
            top_forms=tuple(forms_by_type[name].most_common(top)),
            rare=count < rare_count or count / n_entities < rare_share,
        )
        for name, count in counts.most_common()
    )
    lengths = np.array([len(s) for s in corpus.sentences]) if len(corpus) else np.zeros(1)
    percentiles = {
        "min": float(lengths.min()),
        "p50": float(np.percentile(lengths, 50)),
        "mean": float(lengths.mean()),
        "p90": float(np.percentile(lengths, 90)),
        "p99": float(np.percentile(lengths, 99)),
        "max": float(lengths.max()),
    }
    histogram = []
    for low, high in zip(_LENGTH_BINS, _LENGTH_BINS[1:] + (None,)):
        n = int(((lengths >= low) & (lengths < high)).sum()) if high else int((lengths >= low).sum())
        histogram.append((f"{low}-{high - 1}" if high else f"{low}+", n))
    forms = surface_forms(corpus, casefold=casefold).values()
    multi = sorted((f for f in forms if f.is_multi_type), key=lambda f: (-f.labeled, f.text))
    partly = sorted(
        (f for f in forms if f.unlabeled and f.labeled), key=lambda f: (-min(f.labeled, f.unlabeled), -f.total, f.text)
    )
    return CorpusStats(
        n_documents=len(corpus.documents),
        n_sentences=len(corpus),
        n_tokens=corpus.n_tokens,
        n_entities=n_entities,
        types=types,
        length_percentiles=percentiles,
        length_histogram=tuple(histogram),
        multi_type_forms=tuple(multi[:top]),
        partly_unlabeled_forms=tuple(partly[:top]),
    )
