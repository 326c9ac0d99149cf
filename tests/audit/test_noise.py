"""The noise estimate on a small corpus whose errors are known: confident probabilities of the
true tags, and given tags with a wrong type, a missed entity and a ghost one planted."""

from __future__ import annotations

import numpy as np
import pytest

from nerqa.auditing.issues import cleanlab_scores
from nerqa.auditing.noise import describe_noise, estimate_noise, true_noise
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
            given = PLANTED.get((d, s), tags)
            sentences.append(Sentence(tuple(text.split()), tuple(given.split())))
            truth.append(tuple(tags.split()))
            probs.append(probs_of(tags.split()))
        docs.append(Document(f"d{d}", tuple(sentences)))
    return Corpus(tuple(docs)), truth, probs


def test_the_estimate_counts_the_planted_errors_and_matches_the_truth():
    corpus, truth, probs = corpus_and_truth()
    _, _, flagged = cleanlab_scores(corpus, probs, TAGS)
    assert {i for i, _ in flagged} == {2 * 4 + 0, 5 * 4 + 1, 7 * 4 + 3}  # exactly the planted sentences
    noise = estimate_noise(corpus, flagged, probs, TAGS)
    sentences, entities = noise["sentences"], noise["entities"]
    assert (sentences["count"], sentences["total"]) == (3, 40)
    assert sentences["estimate"] == pytest.approx(3 / 40)
    assert sentences["low"] <= sentences["estimate"] <= sentences["high"] and sentences["high"] < 0.25
    # Entities: the wrong-typed aspirin (given D), the ghost 'found' (given D), and the missed
    # 'cystic fibrosis' (one run of two words, typed D by the model), of 10 * 5 given entities,
    # less the one left O, plus that missed one and the ghost.
    assert (entities["count"], entities["total"]) == (3, 51)
    assert noise["per_type"]["D"]["count"] == 3 and noise["per_type"]["C"]["count"] == 0
    true = true_noise(corpus, truth)
    assert true["sentences"] == pytest.approx(sentences["estimate"], abs=1e-4)
    assert true["entities"] == pytest.approx(entities["estimate"], abs=1e-4)
    assert true["per_type"] == pytest.approx({t: v["estimate"] for t, v in noise["per_type"].items()}, abs=1e-4)
    assert describe_noise(noise).startswith("Estimated label noise: 7.5% (")


def test_a_clean_corpus_is_estimated_clean_and_a_noisier_one_noisier():
    corpus, truth, probs = corpus_and_truth()
    clean = Corpus(
        tuple(
            Document(d.id, tuple(Sentence(s.tokens, t) for s, t in zip(d.sentences, truth[4 * i : 4 * i + 4])))
            for i, d in enumerate(corpus.documents)
        )
    )
    _, _, none = cleanlab_scores(clean, probs, TAGS)
    assert estimate_noise(clean, none, probs, TAGS)["sentences"]["estimate"] == 0.0
    _, _, some = cleanlab_scores(corpus, probs, TAGS)
    assert estimate_noise(corpus, some, probs, TAGS)["sentences"]["estimate"] > 0.0


def test_the_audit_states_the_estimate_in_its_summary_and_report():
    from nerqa.auditing import score
    from nerqa.auditing.report import render_html

    corpus, _, probs = corpus_and_truth()
    result = score(corpus, probs, TAGS)
    assert result.summary["noise"]["sentences"]["count"] == 3
    assert '<p id="noise">Estimated label noise: 7.5% (' in render_html(result)
