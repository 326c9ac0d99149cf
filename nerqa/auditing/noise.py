"""The noise estimate: how many sentences and entities hold a label error.

How noisy is this corpus: the share of sentences, and of entities, that hold a label error,
estimated from the audit's cross-validated probabilities, with an interval, overall and per type.

The count starts from confident learning's (cleanlab, Northcutt et al. 2021): a word is flagged
when the calibrated confident joint of given and predicted entity types puts it off the
diagonal (`find_label_issues`); a sentence is flagged when one of its words is, an entity when
one of its words is (a given span), and each run of flagged words outside every given span is a
missed entity. Flags count the fold models' own mistakes as well as the annotators', so the share
flagged (`F`) is corrected for how well the fold models do, as a screening test's apparent
prevalence is (Rogan & Gladen, 1978): `(F - F0) / (R - F0)`, where
- `F0`, the false-flag rate, is the share the same count flags when the labels hold no annotator
  at all: one view's predicted tags (a runner of `both`, or a repeat) scored by the other
  view's probabilities, the way round that flags fewer (`_false_flags`);
- `R`, the detection rate, is the share of errors planted in the labels that the count flags:
  plausible ones, where the models see ambiguity (the type they rank next, the span they doubt
  most dropped, the untagged word they most read as an entity tagged, a boundary moved by a
  word; `plant_errors`). The probabilities of a sentence come from a model that never saw it,
  so planting an error in its labels needs no retraining.

Both are overstated (`F0` holds the labelling view's own mistakes that the other catches;
planted errors are easier to find than errors an annotator repeats), so the estimate is a lower
bound: at least this share holds an error the fold models can see. An error the corpus repeats
everywhere is learnt by every fold and seen by none (the guideline questions look for those).

It says it cannot tell (`verdict`) with fewer than `MIN_SENTENCES` sentences, with one view
only, or when `R - F0` is under `MIN_SEPARATION` (the models disagree with each other nearly as
often as they find a planted error); the shares are then the flagged ones, as they are.

The interval is a percentile bootstrap over documents (the unit the corpus was written in) of
`F` and `F0` together, with `R` fixed. `bench/noise_estimate.py` measures all of it against the
truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from nerqa.auditing.confident import flagged_words
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.probs import type_level
from nerqa.data.tags import Span, tags_from_spans

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
    # False where the false-flag correction could not be made: the flagged share as it is.
    corrected: bool = True

    def to_dict(self) -> dict:
        record = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items() if k != "corrected"}
        return record if self.corrected else {**record, "bound": "none"}


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


# Below this gap between the detection rate and the false-flag rate the count cannot tell the
# annotators' errors from the fold models' own (a planted error is flagged barely more often than
# a label the models merely disagree on).
MIN_SEPARATION = 0.25
# Sentences that get a planted error in each round of `detection_rate`, and the rounds.
PLANTED_SHARE = 0.1
PLANTED_ROUNDS = 3
# Fewer sentences than this: too few to tell.
MIN_SENTENCES = 100


def _relabelled(corpus: Corpus, tags: Sequence[Sequence[str]]) -> Corpus:
    """`corpus` with sentence i's tags replaced by `tags[i]` (IOB2)."""
    it = iter(tags)
    return Corpus(
        tuple(
            Document(d.id, tuple(Sentence(s.tokens, tuple(next(it))) for s in d.sentences)) for d in corpus.documents
        ),
        name=corpus.name,
    )


def plant_errors(
    corpus: Corpus,
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
    rng: np.random.Generator,
    share: float = PLANTED_SHARE,
) -> tuple[Corpus, dict]:
    """`corpus` with one plausible error planted in `share` of its sentences (drawn at random),
    where the models themselves see ambiguity, as annotators err where the text is ambiguous:
    a span given the type the models rank next, the span the models doubt most dropped, the
    untagged word the models most read as an entity tagged so (with that type), or a span's end
    moved by a word; in equal parts where the sentence allows. `pred_probs`: per sentence
    `(n_words, n_tags)` in `tags` order. Returns the corpus and, per sentence planted, the words
    `(start, end)` the error covers."""
    classes, _, probs = type_level(tags, pred_probs, [s.tags for s in corpus.sentences])
    chosen = rng.choice(len(corpus), size=max(1, round(share * len(corpus))), replace=False)
    new = [list(s.spans) for s in corpus.sentences]
    planted: dict[int, tuple[int, int]] = {}
    for index in map(int, chosen):
        sentence, spans, p = corpus.sentences[index], new[index], probs[index]
        covered = {w for sp in spans for w in range(sp.start, sp.end)}
        free = [w for w in range(len(sentence)) if w not in covered]
        kinds = (["retype"] if spans and len(classes) > 2 else []) + (["drop", "shift"] if spans else [])
        kinds += ["add"] if free and len(classes) > 1 else []
        if not kinds:
            continue
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "add":
            word = max(free, key=lambda w: 1 - p[w, 0])
            label = classes[1 + int(p[word, 1:].argmax())]
            spans.append(Span(word, word + 1, label))
            planted[index] = (word, word + 1)
            continue
        given = [float(p[sp.start : sp.end, classes.index(sp.label)].mean()) for sp in spans]
        k = int(np.argmin(given)) if kind == "drop" else int(rng.integers(len(spans)))
        span = spans[k]
        planted[index] = (span.start, span.end)
        if kind == "retype":
            mean = p[span.start : span.end].mean(axis=0)
            mean[[0, classes.index(span.label)]] = -1.0
            spans[k] = Span(span.start, span.end, classes[int(mean.argmax())])
        elif kind == "drop":
            del spans[k]
        elif span.end < len(sentence) and span.end not in covered:
            spans[k] = Span(span.start, span.end + 1, span.label)  # the next word joins the span
            planted[index] = (span.start, span.end + 1)
        elif span.end - span.start > 1:
            spans[k] = Span(span.start, span.end - 1, span.label)  # the last word leaves it
        else:
            del planted[index]
    labels = [tags_from_spans(spans, len(s)) for spans, s in zip(new, corpus.sentences)]
    return _relabelled(corpus, labels), planted


def detection_rate(
    corpus: Corpus, pred_probs: Sequence[np.ndarray], tags: Sequence[str], *, seed: int = 0
) -> tuple[float, float]:
    """The share of planted sentence errors, and of planted entity errors, the count flags
    (`plant_errors`, `PLANTED_ROUNDS` rounds): a sentence when any of its words is flagged, an
    entity when a word of the words it covers is."""
    rng = np.random.default_rng(seed)
    sentences = entities = total = 0
    for _ in range(PLANTED_ROUNDS):
        planted_corpus, planted = plant_errors(corpus, pred_probs, tags, rng)
        flagged = flagged_words(planted_corpus, pred_probs, tags)
        by_sentence: dict[int, set[int]] = {}
        for sentence, word in flagged:
            by_sentence.setdefault(int(sentence), set()).add(int(word))
        for index, (start, end) in planted.items():
            words = by_sentence.get(index, set())
            sentences += bool(words)
            entities += any(start <= w < end for w in words)
            total += 1
    return (sentences / total, entities / total) if total else (0.0, 0.0)


def _false_flags(corpus: Corpus, views: Sequence[Sequence[np.ndarray]], tags: Sequence[str]) -> tuple:
    """The `error_units` of the count with no annotator in the labels: one view's predicted tags
    as the labels, the other view's probabilities scoring them, each way; the way that flags
    fewer sentences. Each way's flags are the scoring view's false flags plus the labelling
    view's own mistakes it catches, so each overstates the false-flag rate, and the lower of
    the two overstates it least."""
    from nerqa.data.probs import tags_from_probs

    ways = []
    for a, b in ((0, 1), (1, 0)):
        labels = _relabelled(corpus, tags_from_probs(list(views[a]), tags))
        ways.append(error_units(labels, flagged_words(labels, views[b], tags), views[b], tags))
    return min(ways, key=lambda units: units[0].mean())


def _corrected(flagged: float, false: float, detected: float) -> float:
    """Rogan-Gladen: the true share behind an apparent one, in [0, 1]."""
    return float(np.clip((flagged - false) / (detected - false), 0.0, 1.0))


def corrected_share(
    hits: np.ndarray,
    totals: np.ndarray,
    documents: list[np.ndarray],
    rng: np.random.Generator,
    false_hits: np.ndarray | None = None,
    false_totals: np.ndarray | None = None,
    detected: float | None = None,
) -> Share:
    """`hits.sum() / totals.sum()` over sentences, corrected by the false-flag counts and the
    detection rate where given (`_corrected`), with a bootstrap over `documents` (each an array
    of sentence indices)."""
    count, total = int(hits.sum()), int(totals.sum())
    columns = [hits, totals] + ([false_hits, false_totals] if false_hits is not None else [])
    per_document = np.array([[c[d].sum() for c in columns] for d in documents], dtype=float)
    draws = rng.integers(0, len(documents), size=(BOOTSTRAP_DRAWS, len(documents)))
    sums = per_document[draws].sum(axis=1)
    ratios = sums[:, 0] / np.maximum(sums[:, 1], 1)
    estimate = count / total if total else 0.0
    tail = (1 - INTERVAL) / 2
    if false_hits is not None and detected is not None:
        false = float(false_hits.sum() / max(false_totals.sum(), 1))  # type: ignore[union-attr]
        if detected - false < MIN_SEPARATION:
            # Too little separation for this share (a type the models confuse): the flagged
            # share as it is, marked so.
            low, high = np.quantile(ratios, [tail, 1 - tail]) if total else (0.0, 0.0)
            return Share(count, total, estimate, float(low), float(high), corrected=False)
        estimate = _corrected(estimate, false, detected)
        ratios = np.clip((ratios - sums[:, 2] / np.maximum(sums[:, 3], 1)) / (detected - false), 0.0, 1.0)
    low, high = np.quantile(ratios, [tail, 1 - tail]) if total else (0.0, 0.0)
    return Share(round(estimate * total), total, estimate, float(low), float(high))


def _entity_counts(entities: list[list[tuple[str, bool]]], name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence, the entities in error and all entities (of type `name`, or every type)."""
    hits = np.array([sum(bad for t, bad in e if name in (None, t)) for e in entities], dtype=float)
    totals = np.array([sum(1 for t, _ in e if name in (None, t)) for e in entities], dtype=float)
    return hits, totals


def estimate_noise(
    corpus: Corpus,
    flagged: Iterable[tuple[int, int]],
    pred_probs: Sequence[np.ndarray],
    tags: Sequence[str],
    *,
    views: Sequence[Sequence[np.ndarray]] | None = None,
    seed: int = 0,
) -> dict:
    """The estimated share of sentences and of entities in error, overall and per entity type:
    `{"sentences": Share, "entities": Share, "per_type": {type: Share}, "flagged": {...},
    "false_flags": {...}, "detection": {...}, "verdict": str, "method": str, "interval": 0.95}`,
    each `Share` as a dict (JSON-able, for `summary.json`).

    The estimate is a lower bound: the false-flag rate it takes out is overstated (see
    `_false_flags`), the planted errors are as easy to find as the easiest real ones, and an
    error the whole corpus repeats is invisible to cross-validation.

    `flagged`: the `(sentence, word)` pairs confident learning flags on `pred_probs`
    (`cleanlab_scores`); `pred_probs`: per sentence `(n_words, n_tags)`, in `tags` order;
    `views`: two or more independent sets of such probabilities whose mean is `pred_probs` (the
    runners of `both`, or repeats), from which the false-flag rate is measured. Without them, or
    when the count cannot tell errors from the models' own mistakes, `verdict` says so and the
    shares are the flagged ones, as they are (`"bound": "none"`)."""
    wrong, entities = error_units(corpus, flagged, pred_probs, tags)
    rng = np.random.default_rng(seed)
    starts = np.cumsum([0] + [len(d.sentences) for d in corpus.documents])
    documents = [np.arange(starts[i], starts[i + 1]) for i in range(len(corpus.documents))]
    documents = [d for d in documents if len(d)]
    ones = np.ones(len(corpus))
    types = sorted({t for e in entities for t, _ in e})
    raw_entities = _entity_counts(entities)
    out: dict = {
        "method": "confident learning on entity types, less the fold models' own mistakes (measured where one "
        "view's predictions are scored by the other) and over the share of planted errors it finds "
        "(Rogan-Gladen): a lower bound; bootstrap interval over documents",
        "interval": INTERVAL,
        "flagged": {
            "sentences": round(float(wrong.mean()) if len(corpus) else 0.0, 4),
            "entities": round(float(raw_entities[0].sum() / max(raw_entities[1].sum(), 1)), 4),
        },
    }
    detected = detection_rate(corpus, pred_probs, tags, seed=seed)
    out["detection"] = {"sentences": round(detected[0], 4), "entities": round(detected[1], 4)}
    false_units = _false_flags(corpus, views, tags) if views is not None and len(views) >= 2 else None
    if false_units is not None:
        false_wrong = false_units[0].astype(float)
        false_entities = _entity_counts(false_units[1])
        out["false_flags"] = {
            "sentences": round(float(false_wrong.mean()), 4),
            "entities": round(float(false_entities[0].sum() / max(false_entities[1].sum(), 1)), 4),
        }
    reason = _cannot_tell(corpus, false_units, detected)
    if reason is not None:
        out["verdict"] = f"cannot tell: {reason}"
        out["sentences"] = _flagged(corrected_share(wrong.astype(float), ones, documents, rng))
        out["entities"] = _flagged(corrected_share(*raw_entities, documents, rng))
        out["per_type"] = {t: _flagged(corrected_share(*_entity_counts(entities, t), documents, rng)) for t in types}
        return out
    out["sentences"] = corrected_share(
        wrong.astype(float), ones, documents, rng, false_wrong, ones, detected[0]
    ).to_dict()
    out["entities"] = corrected_share(*raw_entities, documents, rng, *false_entities, detected[1]).to_dict()
    out["per_type"] = {
        t: corrected_share(
            *_entity_counts(entities, t), documents, rng, *_entity_counts(false_units[1], t), detected[1]
        ).to_dict()
        for t in types
    }
    out["verdict"] = _verdict(out["sentences"], out["flagged"]["sentences"], out["false_flags"]["sentences"])
    return out


def _cannot_tell(corpus: Corpus, false_units: tuple | None, detected: tuple[float, float]) -> str | None:
    """Why the estimate cannot tell annotators' errors from the models' own, or None."""
    if len(corpus) < MIN_SENTENCES:
        return f"{len(corpus)} sentences are too few (at least {MIN_SENTENCES})"
    if false_units is None:
        return "one set of fold models gives no measure of their own mistakes (audit with --mode both or --repeats 2)"
    false = float(false_units[0].mean())
    if detected[0] - false < MIN_SEPARATION:
        return (
            f"the fold models disagree with each other on {false:.0%} of sentences and find only {detected[0]:.0%} of "
            "planted errors: too weak to tell (more sentences, or --mode both)"
        )
    return None


def _flagged(share: Share) -> dict:
    """The flagged share as it is, when it cannot be corrected: neither an estimate nor a bound
    (it holds the models' own mistakes, and misses the errors they share with the labels)."""
    return {**share.to_dict(), "bound": "none"}


def _verdict(sentences: dict, flagged: float, false: float) -> str:
    """The estimate in words, for a team deciding whether a review pass is worth it: whether any
    error stands out (the interval clear of 0) from the fold models' own mistakes."""
    if flagged <= false or sentences["low"] <= 0.0:
        return (
            f"no error stands out from the fold models' own mistakes ({flagged:.1%} of sentences flagged, "
            f"{false:.1%} explained by their disagreement)"
        )
    return f"at least {sentences['estimate']:.1%} of sentences hold an error the fold models can see"


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

    verdict = noise.get("verdict", "")
    if verdict.startswith("no error stands out"):
        return f"Label noise: {verdict}; errors the corpus repeats everywhere are not counted."
    if verdict.startswith("cannot tell"):
        return (
            f"Label noise: {verdict}. Flagged: {noise['sentences']['estimate']:.1%} of sentences and "
            f"{noise['entities']['estimate']:.1%} of entities, the fold models' own mistakes included."
        )
    types = ", ".join(
        f"{name} {values['estimate']:.1%}" + (" (flagged, uncorrected)" if values.get("bound") == "none" else "")
        for name, values in noise.get("per_type", {}).items()
        if values["total"]
    )
    return (
        f"Label noise, a lower bound: {share(noise['sentences'])} of sentences and {share(noise['entities'])} of "
        f"entities hold an error the fold models can see (95 % interval over documents; errors the corpus repeats "
        f"everywhere are not counted)" + (f"; by type: {types}." if types else ".")
    )
