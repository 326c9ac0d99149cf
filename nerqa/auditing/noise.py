"""How noisy is this corpus: the share of sentences, and of entities, that hold a label error,
estimated from the audit's cross-validated probabilities, with an interval, overall and per type.

The count is confident learning's (cleanlab, Northcutt et al. 2021), on the cross-validated
probabilities: a word is in error when the calibrated confident joint of given and predicted
entity types puts it off the diagonal, the words `find_label_issues` flags. From it:
- a sentence holds an error when one of its words is flagged;
- an entity is in error when one of its words is flagged (a given span), and each run of flagged
  words outside every given span is a missed entity, of the type the model reads there.

The interval is a percentile bootstrap over documents (the unit the corpus was written in): it
says how much the share would move on another sample of documents like these, not how far the
count itself may be off, which `bench/real_noise.py` measures against the truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from nerqa.data.corpus import Corpus
from nerqa.data.probs import type_level

BOOTSTRAP_DRAWS = 1000
INTERVAL = 0.95


@dataclass(frozen=True)
class Share:
    """`count` of `total` in error: `estimate = count / total`, and its interval [low, high]."""

    count: int
    total: int
    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def error_units(
    corpus: Corpus,
    flagged: Iterable[tuple[int, int]],
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
) -> tuple[np.ndarray, list[list[tuple[str, bool]]]]:
    """Per sentence, whether it holds an error `(n_sentences,)`, and its entities as
    `(type, in error)`: every given span, then every run of flagged words outside the given
    spans (a missed entity, typed by the model's most likely entity type over the run)."""
    classes, _, probs = type_level(tags, pred_probs, [s.tags for s in corpus.sentences])
    by_sentence: dict[int, set[int]] = {}
    for sentence, word in flagged:
        by_sentence.setdefault(int(sentence), set()).add(int(word))
    wrong = np.zeros(len(corpus), dtype=bool)
    entities: list[list[tuple[str, bool]]] = []
    for index, sentence in enumerate(corpus.sentences):
        words = by_sentence.get(index, set())
        wrong[index] = bool(words)
        own = [(span.label, any(span.start <= w < span.end for w in words)) for span in sentence.spans]
        covered = {w for span in sentence.spans for w in range(span.start, span.end)}
        outside = sorted(words - covered)
        runs: list[list[int]] = []
        for word in outside:
            if runs and runs[-1][-1] == word - 1:
                runs[-1].append(word)
            else:
                runs.append([word])
        for run in runs:
            mean = probs[index][run].mean(axis=0)
            mean[0] = -1.0  # classes[0] is O: the type of a missed entity is an entity type
            own.append((classes[int(mean.argmax())], True))
        entities.append(own)
    return wrong, entities


def _share(hits: np.ndarray, totals: np.ndarray, documents: list[np.ndarray], rng: np.random.Generator) -> Share:
    """`hits.sum() / totals.sum()` over sentences, with a bootstrap over `documents` (each an
    array of sentence indices)."""
    count, total = int(hits.sum()), int(totals.sum())
    estimate = count / total if total else 0.0
    per_document = np.array([[hits[d].sum(), totals[d].sum()] for d in documents], dtype=float)
    draws = rng.integers(0, len(documents), size=(BOOTSTRAP_DRAWS, len(documents)))
    sums = per_document[draws].sum(axis=1)
    ratios = sums[:, 0] / np.maximum(sums[:, 1], 1)
    tail = (1 - INTERVAL) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail]) if total else (0.0, 0.0)
    return Share(count, total, estimate, float(low), float(high))


def estimate_noise(
    corpus: Corpus,
    flagged: Iterable[tuple[int, int]],
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
    *,
    seed: int = 0,
) -> dict:
    """The estimated share of sentences and of entities in error, overall and per entity type:
    `{"sentences": Share, "entities": Share, "per_type": {type: Share}, "method": str}`, each
    `Share` as a dict (JSON-able, for `summary.json`).

    `flagged`: the `(sentence, word)` pairs confident learning flags (`cleanlab_scores`);
    `pred_probs`: per sentence `(n_words, n_tags)`, in `tags` order (what was scored).
    """
    wrong, entities = error_units(corpus, flagged, pred_probs, tags)
    rng = np.random.default_rng(seed)
    starts = np.cumsum([0] + [len(d.sentences) for d in corpus.documents])
    documents = [np.arange(starts[i], starts[i + 1]) for i in range(len(corpus.documents))]
    documents = [d for d in documents if len(d)]
    ones = np.ones(len(corpus))
    out: dict = {
        "method": "confident learning (cleanlab find_label_issues on entity types), bootstrap over documents",
        "sentences": _share(wrong.astype(float), ones, documents, rng).to_dict(),
        "entities": _share(
            np.array([sum(bad for _, bad in e) for e in entities], dtype=float),
            np.array([len(e) for e in entities], dtype=float),
            documents,
            rng,
        ).to_dict(),
        "per_type": {},
    }
    types = sorted({t for e in entities for t, _ in e})
    for name in types:
        hits = np.array([sum(bad for t, bad in e if t == name) for e in entities], dtype=float)
        totals = np.array([sum(1 for t, _ in e if t == name) for e in entities], dtype=float)
        out["per_type"][name] = _share(hits, totals, documents, rng).to_dict()
    return out


def true_noise(corpus: Corpus, truth: Sequence[Sequence[str]]) -> dict:
    """The shares `estimate_noise` estimates, counted against the true tags of each sentence (for
    benchmarks), with the same units: sentences whose tags differ; every given span (in error
    unless the truth holds it, typed by its given type) and every true span that overlaps no
    given span (a missed entity, in error, typed by its true type)."""
    from nerqa.data.tags import spans_from_tags

    sentences = sum(tuple(s.tags) != tuple(t) for s, t in zip(corpus.sentences, truth))
    errors: Counter = Counter()
    totals: Counter = Counter()
    for sentence, tags in zip(corpus.sentences, truth):
        given, clean = set(sentence.spans), set(spans_from_tags(list(tags)))
        for span in given:
            totals[span.label] += 1
            errors[span.label] += span not in clean
        for span in clean:
            if not any(g.start < span.end and span.start < g.end for g in given):
                totals[span.label] += 1
                errors[span.label] += 1
    return {
        "sentences": sentences / max(len(corpus), 1),
        "entities": sum(errors.values()) / max(sum(totals.values()), 1),
        "per_type": {t: errors[t] / totals[t] for t in sorted(totals)},
    }


def describe_noise(noise: dict) -> str:
    """`estimate_noise`'s figures in one sentence, for the terminal summary and the report."""

    def share(values: dict) -> str:
        return f"{values['estimate']:.1%} ({values['low']:.1%}-{values['high']:.1%})"

    types = ", ".join(
        f"{name} {values['estimate']:.1%}" for name, values in noise.get("per_type", {}).items() if values["total"]
    )
    return (
        f"Estimated label noise: {share(noise['sentences'])} of sentences and {share(noise['entities'])} of "
        f"entities hold a label error (95 % interval over documents)" + (f"; by type: {types}." if types else ".")
    )
