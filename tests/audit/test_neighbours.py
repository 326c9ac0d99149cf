"""Mentions whose neighbours carry another type, and guideline questions
(`nerqa.auditing.neighbours`), on word features built so that the answer is known."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nerqa.auditing.mentions import mention_vectors, mentions_of, nearest
from nerqa.auditing.neighbours import describe_vote, find_repeated_errors, neighbour_issues, votes
from nerqa.auditing.questions import Question
from nerqa.config import ScoringSettings
from nerqa.data.corpus import Corpus, Document, Sentence

DIM = 8


def topic(axis: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """Word features `(n, DIM)` that point along `axis`, with a little noise."""
    out = rng.normal(0, 0.05, (n, DIM)).astype(np.float32)
    out[:, axis] += 1.0
    return out


def sports_corpus() -> tuple[Corpus, list[np.ndarray]]:
    """Sports results: clubs given ORG (20 sentences), countries in the same results given LOC
    (3 sentences, the repeated error), and countries as places given LOC (30 sentences, right).
    Sports sentences' words point along axis 0, place sentences' along axis 1."""
    rng = np.random.default_rng(0)
    sentences, features = [], []
    for i in range(20):
        sentences.append(Sentence((f"Club{i}", "beat", "Club", "2-1", "."), ("B-ORG", "O", "B-ORG", "O", "O")))
        features.append(topic(0, rng, 5))
    for i in range(3):
        sentences.append(Sentence((f"Land{i}", "beat", "Club", "2-1", "."), ("B-LOC", "O", "B-ORG", "O", "O")))
        features.append(topic(0, rng, 5))
    for i in range(30):
        sentences.append(Sentence(("Rain", "fell", "in", f"Land{i}", "."), ("O", "O", "O", "B-LOC", "O")))
        features.append(topic(1, rng, 5))
    return Corpus((Document("d", tuple(sentences)),)), features


def test_mention_vectors_read_the_words_around_the_mention_not_the_mention():
    corpus, features = sports_corpus()
    mentions = mentions_of(corpus)
    assert len(mentions) == 20 * 2 + 3 * 2 + 30 and mentions[0].text == "Club0" and mentions[0].label == "ORG"
    changed = [f.copy() for f in features]
    changed[0][0] += 100.0  # the mention's own word: left out of the context half
    same = mention_vectors(features, mentions[:1], context=3)
    moved = mention_vectors(changed, mentions[:1], context=3)
    assert same.shape == (1, 2 * DIM)
    local = lambda v: v[0, :DIM] / np.linalg.norm(v[0, :DIM])  # noqa: E731
    np.testing.assert_allclose(local(moved), local(same), atol=1e-6)
    changed[0][1] += 100.0  # a word beside it: in the context half
    assert not np.allclose(local(mention_vectors(changed, mentions[:1], context=3)), local(same), atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(same, axis=1), 1.0, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 40), st.integers(1, 6), st.integers(0, 2**16))
def test_nearest_is_exact_and_never_returns_the_same_group(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    groups = rng.integers(0, max(1, n // 2), n)
    index, sims = nearest(vectors, k, groups=groups, block=7)
    for row in range(n):
        allowed = [j for j in range(n) if groups[j] != groups[row]]
        expected = sorted(allowed, key=lambda j: -float(vectors[row] @ vectors[j]))[:k]
        found = [j for j in index[row] if j >= 0]
        assert len(found) == min(k, len(allowed))
        best = sorted(vectors[row] @ vectors[expected].T)
        np.testing.assert_allclose(sorted(sims[row][: len(found)]), best, atol=1e-5)
        assert all(groups[j] != groups[row] for j in found)


def test_countries_in_sports_results_are_voted_org_and_asked_about():
    corpus, features = sports_corpus()
    found = find_repeated_errors(corpus, features, scoring=ScoringSettings(neighbour_count=6))
    by_text = {(m.index, m.text): v for m, v in zip(found.mentions, found.votes)}
    # A country in a result: its 6 nearest mentions (other sentences) are mostly ORG clubs.
    vote = by_text[(20, "Land0")]
    assert vote is not None and vote.label == "ORG" and vote.share >= 0.6
    assert describe_vote(vote).startswith(f"{vote.agree} of 6 similar mentions are ORG: ")
    # A country as a place: its neighbours are places, LOC like it.
    assert by_text[(23, "Land0")] is None
    # Among the sports mentions, 2 of 48 are other countries: at least 4 of 6 neighbours are ORG.
    issues = neighbour_issues(
        corpus, found.mentions, found.votes, scoring=ScoringSettings(neighbour_min_share=0.6, neighbour_weight=0.5)
    )
    flagged = {(i.index, i.text) for i in issues}
    assert {(20 + i, f"Land{i}") for i in range(3)} <= flagged
    assert not any(index >= 23 for index, _ in flagged)
    sample = next(i for i in issues if i.index == 20)
    sample_vote = by_text[(20, "Land0")]
    assert sample.type == "wrong_tag" and sample.suggested == "ORG" and sample.evidence == ("neighbours",)
    assert sample.score == round(1 - 0.5 * (sample_vote.share), 6) and sample.similar and sample.similar[0][2] == "ORG"
    # The question: LOC mentions that read like ORG, the sports ones, not the places.
    question = found.questions[0]
    assert (question.id, question.label, question.suggested) == ("q1", "LOC", "ORG")
    assert {(i, t) for i, _, _, t in question.mentions} == {(20 + i, f"Land{i}") for i in range(3)}
    assert question.clusters[0].size == 3 and question.lean > question.baseline
    assert Question.from_dict(question.to_dict()) == question


def test_a_corpus_without_mentions_has_no_votes_and_no_questions():
    corpus = Corpus((Document("d", (Sentence(("a", "b"), ("O", "O")),)),))
    found = find_repeated_errors(corpus, [np.zeros((2, DIM), dtype=np.float32)])
    assert found.mentions == [] and found.questions == [] and votes([], np.zeros((0, 1)), np.zeros((0, 1))) == []
