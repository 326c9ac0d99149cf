"""The noise estimate on a small corpus whose errors are known: probabilities of the true tags
(or of fallible models), and given tags with a wrong type, a missed entity and a ghost one planted."""

from __future__ import annotations

import numpy as np
import pytest

from nerqa.auditing.confident import cleanlab_scores
from nerqa.auditing.noise import describe_noise, detection_rate, estimate_noise, true_noise
from nerqa.data.corpus import Corpus, Document, Sentence

TAGS = ("O", "B-D", "I-D", "B-C", "I-C")
CLEAN = [
    ("aspirin eased the migraine .", "B-C O O B-D O"),
    ("cystic fibrosis is rare .", "B-D I-D O O O"),
    ("we gave ibuprofen daily .", "O O B-C O O"),
    ("no tumour was found .", "O B-D O O O"),
]
# (document, sentence in it, given tags): the planted errors.
PLANTED = {
    (2, 0): "B-D O O B-D O",  # aspirin typed D, truly C: a wrong type
    (5, 1): "O O O O O",  # cystic fibrosis left O: a missed entity
    (7, 3): "O B-D O B-D O",  # 'found' tagged D: a ghost entity
}


def probs_of(tags: list[str], confidence: float = 0.95) -> np.ndarray:
    out = np.full((len(tags), len(TAGS)), (1 - confidence) / (len(TAGS) - 1), dtype=np.float32)
    for i, tag in enumerate(tags):
        out[i, TAGS.index(tag)] = confidence
    return out


def corpus_and_truth(documents: int = 10) -> tuple[Corpus, list[tuple[str, ...]], list[np.ndarray]]:
    docs, truth, probs = [], [], []
    for d in range(documents):
        sentences = []
        for s, (text, tags) in enumerate(CLEAN):
            given = PLANTED.get((d % 10, s), tags)
            sentences.append(Sentence(tuple(text.split()), tuple(given.split())))
            truth.append(tuple(tags.split()))
            probs.append(probs_of(tags.split()))
        docs.append(Document(f"d{d}", tuple(sentences)))
    return Corpus(tuple(docs)), truth, probs


def test_the_count_flags_exactly_the_planted_errors_and_planting_finds_the_detection_rate():
    corpus, truth, probs = corpus_and_truth(30)
    _, _, flagged = cleanlab_scores(corpus, probs, TAGS)
    planted = {d * 4 + s for d in range(30) for (d0, s) in PLANTED if d % 10 == d0}
    assert {i for i, _ in flagged} == planted
    # Confident, right probabilities find nearly every planted error.
    sentences, entities = detection_rate(corpus, probs, TAGS)
    assert sentences > 0.9 and entities > 0.8


def test_with_two_views_that_agree_the_estimate_matches_the_truth():
    corpus, truth, probs = corpus_and_truth(30)
    _, _, flagged = cleanlab_scores(corpus, probs, TAGS)
    noise = estimate_noise(corpus, flagged, probs, TAGS, views=[probs, probs])
    sentences = noise["sentences"]
    true = true_noise(corpus, truth)
    assert noise["false_flags"]["sentences"] == 0.0
    assert sentences["estimate"] == pytest.approx(true["sentences"], rel=0.1)
    assert sentences["low"] <= true["sentences"] <= sentences["high"] and sentences["low"] > 0
    assert noise["entities"]["estimate"] == pytest.approx(true["entities"], rel=0.25)
    assert describe_noise(noise).startswith("Label noise, a lower bound: 7.5% (")


def test_a_clean_corpus_with_fallible_models_reads_clean():
    # No label errors, but each view errs on other sentences (the first reads 'migraine' O in a
    # fifth of the documents, the second 'ibuprofen' O): the flags are the models' own mistakes.
    corpus, truth, _ = corpus_and_truth(30)
    clean = Corpus(
        tuple(
            Document(d.id, tuple(Sentence(s.tokens, t) for s, t in zip(d.sentences, truth[4 * i : 4 * i + 4])))
            for i, d in enumerate(corpus.documents)
        )
    )
    mistakes = {0: "B-C O O O O", 2: "O O O O O"}
    views = []
    for own in (0, 2):
        view = []
        for n, tags in enumerate(truth):
            doc, sentence = divmod(n, 4)
            view.append(probs_of(mistakes[own].split() if doc % 5 == 0 and sentence == own else list(tags)))
        views.append(view)
    # Scored on the first view's probabilities, its mistakes are flagged as label errors.
    _, _, flagged = cleanlab_scores(clean, views[0], TAGS)
    noise = estimate_noise(clean, flagged, views[0], TAGS, views=views)
    assert noise["flagged"]["sentences"] > 0  # the count alone would call it noisy
    assert noise["sentences"]["estimate"] < 0.02 and noise["sentences"]["low"] == 0.0
    assert noise["verdict"].startswith("no error stands out from the fold models' own mistakes")
    assert describe_noise(noise).startswith("Label noise: no error stands out")


def test_without_a_second_view_or_with_few_sentences_it_says_it_cannot_tell():
    corpus, _, probs = corpus_and_truth(30)
    _, _, flagged = cleanlab_scores(corpus, probs, TAGS)
    noise = estimate_noise(corpus, flagged, probs, TAGS)
    assert noise["verdict"].startswith("cannot tell: one set of fold models")
    assert noise["sentences"]["bound"] == "none" and noise["sentences"]["estimate"] == noise["flagged"]["sentences"]
    assert describe_noise(noise).startswith("Label noise: cannot tell")
    small, _, small_probs = corpus_and_truth(10)
    _, _, flagged = cleanlab_scores(small, small_probs, TAGS)
    noise = estimate_noise(small, flagged, small_probs, TAGS, views=[small_probs, small_probs])
    assert noise["verdict"] == "cannot tell: 40 sentences are too few (at least 100)"


def test_models_that_disagree_with_each_other_too_often_cannot_tell():
    corpus, _, probs = corpus_and_truth(30)
    rng = np.random.default_rng(0)
    views = [[rng.dirichlet(np.ones(len(TAGS)), size=len(p)).astype(np.float32) for p in probs] for _ in range(2)]
    mean = [(a + b) / 2 for a, b in zip(*views)]
    _, _, flagged = cleanlab_scores(corpus, mean, TAGS)
    noise = estimate_noise(corpus, flagged, mean, TAGS, views=views)
    assert noise["verdict"].startswith("cannot tell: the fold models disagree with each other")


def test_the_audit_states_the_estimate_in_its_summary_and_report():
    from nerqa.auditing import score
    from nerqa.auditing.report import render_html

    corpus, _, probs = corpus_and_truth()
    result = score(corpus, probs, TAGS)
    assert result.summary["noise"]["flagged"]["sentences"] == 3 / 40
    assert '<p id="noise">Label noise: cannot tell: 40 sentences are too few' in render_html(result)


def test_a_share_whose_models_cannot_separate_errors_is_left_uncorrected_and_says_so():
    from nerqa.auditing.noise import corrected_share

    rng = np.random.default_rng(0)
    documents = [np.arange(i, i + 2) for i in range(0, 20, 2)]
    hits, totals = np.array([1.0, 0.0] * 10), np.ones(20)
    corrected = corrected_share(hits, totals, documents, rng, np.zeros(20), totals, 0.9).to_dict()
    assert corrected["estimate"] == pytest.approx(0.5 / 0.9, abs=1e-3) and "bound" not in corrected
    # A false-flag rate as high as the detection rate: no correction can be made.
    raw = corrected_share(hits, totals, documents, rng, np.full(20, 0.8), totals, 0.9).to_dict()
    assert raw["estimate"] == 0.5 and raw["bound"] == "none"
