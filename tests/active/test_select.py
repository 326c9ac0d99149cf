"""Active learning: scores, the diversity guard, pools, batches (`nerqa.active.select`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from samples import TOY

from nerqa.active.pool import labeled_keys, open_pool
from nerqa.active.predictors import ClassifierPredictor, EncoderPredictor
from nerqa.active.select import CANDIDATES_PER_PICK, PoolStream, select
from nerqa.active.strategies import DEFAULT_STRATEGY, STRATEGIES, reason, sentence_score, sentence_scores
from nerqa.data.corpus import Corpus, Document, Sentence, text_key
from nerqa.data.formats import read_corpus, read_text_documents, write_corpus
from nerqa.errors import CorpusFormatError, NerqaError

TAGS = ("O", "B-D", "I-D")

SURE = [1.0, 0.0, 0.0]


class Fixed:
    """A predictor with a fixed probability row and embedding per sentence (by first token)."""

    def __init__(self, rows: dict[str, tuple[list[float], list[float]]]) -> None:
        self.tags = TAGS
        self.rows = rows
        self.largest_call = 0
        self.calls = 0

    def __call__(self, sentences):
        self.calls += 1
        self.largest_call = max(self.largest_call, len(sentences))
        probs = [np.array([self.rows[s[0]][0]] * len(s)) for s in sentences]
        vectors = np.array([self.rows[s[0]][1] for s in sentences], dtype=np.float32)
        return probs, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def documents(names):
    return [Document(f"d{i}", (Sentence((name, "x"), ("O", "O")),)) for i, name in enumerate(names)]


def test_scores_follow_their_definitions():
    one_unsure = np.array([SURE, [0.5, 0.4, 0.1], SURE])
    assert sentence_score(one_unsure, "margin") == pytest.approx(1 - (0.5 - 0.4))
    assert sentence_score(one_unsure, "mnlp") == pytest.approx(-math.log(0.5) / 3)
    assert sentence_score(one_unsure, "least_confidence") == pytest.approx(0.5)
    assert sentence_score(one_unsure, "entropy") == pytest.approx(
        -(0.5 * math.log(0.5) + 0.4 * math.log(0.4) + 0.1 * math.log(0.1))
    )
    sure = np.array([SURE] * 3)
    assert all(sentence_score(sure, s) == pytest.approx(0.0, abs=1e-9) for s in STRATEGIES if s != "random")
    # MNLP normalises by length: twice the sentence (the unsure word twice) scores the same,
    # while the total-probability measures grow with it.
    doubled = np.concatenate([one_unsure, one_unsure])
    assert sentence_score(doubled, "mnlp") == pytest.approx(sentence_score(one_unsure, "mnlp"))
    assert sentence_score(doubled, "least_confidence") == pytest.approx(0.75)
    assert sentence_score(doubled, "entropy") == pytest.approx(2 * sentence_score(one_unsure, "entropy"))
    assert sentence_score(doubled, "margin") == pytest.approx(sentence_score(one_unsure, "margin"))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(2, 5)), elements=st.floats(0.01, 1.0)))
def test_scores_are_bounded_and_grow_with_doubt(raw):
    probs = raw / raw.sum(axis=1, keepdims=True)
    for strategy in ("mnlp", "margin", "entropy", "least_confidence"):
        value = sentence_score(probs, strategy)
        assert value >= -1e-9
        if strategy in ("margin", "least_confidence"):
            assert value <= 1 + 1e-9
        # Making one word certain never makes the sentence more worth annotating.
        surer = probs.copy()
        surer[0] = np.eye(probs.shape[1])[probs[0].argmax()]
        assert sentence_score(surer, strategy) <= value + 1e-9


def test_random_scores_are_seeded():
    probs = [np.array([SURE])] * 50
    assert np.array_equal(sentence_scores(probs, "random", seed=3), sentence_scores(probs, "random", seed=3))
    assert not np.array_equal(sentence_scores(probs, "random", seed=3), sentence_scores(probs, "random", seed=4))


def test_reason_names_the_least_certain_word():
    probs = np.array([SURE, [0.48, 0.41, 0.11], SURE])
    assert reason(["a", "tumour", "."], probs, TAGS, "margin") == 'margin: "tumour" O 0.48 vs B-D 0.41'


def test_the_diversity_guard_takes_one_of_many_near_copies():
    rows = {}
    for i in range(30):  # near-copies of one sentence, the model most unsure of them
        rows[f"copy{i}"] = ([0.4, 0.35, 0.25], [1.0, 0.001 * i, 0.0, 0.0])
    rng = np.random.default_rng(0)
    for i in range(30):  # varied sentences, a little less uncertain
        rows[f"other{i}"] = ([0.6, 0.3, 0.1], list(rng.normal(size=4)))
    names = list(rows)
    plain = select(documents(names), Fixed(rows), budget=10, strategy="margin", diversity="off")
    assert all(c.sentence.tokens[0].startswith("copy") for c in plain.choices)
    for guard in ("near-duplicates", "clusters"):
        guarded = select(documents(names), Fixed(rows), budget=10, strategy="margin", diversity=guard)
        copies = [c for c in guarded.choices if c.sentence.tokens[0].startswith("copy")]
        assert len(copies) == 1 and len(guarded.choices) == 10, guard
        assert [c.rank for c in guarded.choices] == list(range(1, 11))
        assert [c.score for c in guarded.choices] == sorted((c.score for c in guarded.choices), reverse=True)
        assert guarded.choices[0].sentence.tokens[0].startswith("copy")
    assert guarded.choices[0].cluster_size >= 30  # the k-means guard saw the copies as one cluster
    # With too few distinct candidates, near-copies fill the batch rather than leaving it short.
    only_copies = {name: row for name, row in rows.items() if name.startswith("copy")}
    filled = select(documents(list(only_copies)), Fixed(only_copies), budget=5, strategy="margin")
    assert len(filled.choices) == 5


def test_labeled_and_repeated_sentences_are_never_chosen_and_are_counted():
    rows = {f"s{i}": ([0.5, 0.3, 0.2] if i % 2 else [0.9, 0.05, 0.05], [1.0, float(i), 0.0]) for i in range(10)}
    names = [f"s{i}" for i in range(10)] + ["s3", "s5"]  # two repeats
    labeled = Corpus(tuple(documents(["s1", "s2"])))
    selection = select(documents(names), Fixed(rows), budget=8, skip=labeled_keys(labeled))
    chosen = {c.sentence.tokens[0] for c in selection.choices}
    assert chosen == {f"s{i}" for i in range(10)} - {"s1", "s2"}
    assert selection.counts == {"documents": 12, "read": 12, "duplicates": 2, "labeled": 2, "scored": 8}
    with pytest.raises(
        NerqaError, match=r"holds 8 new sentences \(12 read, 2 already labeled, 2 repeats\): fewer than the budget of 9"
    ):
        select(documents(names), Fixed(rows), budget=9, skip=labeled_keys(labeled))
    with pytest.raises(NerqaError, match="no sentences"):
        select([], Fixed(rows), budget=1)


def test_a_large_pool_streams_through_a_bounded_buffer():
    rng = np.random.default_rng(1)
    rows = {f"s{i}": (list(rng.dirichlet([1, 1, 1])), list(rng.normal(size=4))) for i in range(3000)}
    produced = []

    def stream():  # a generator: the pool is never a list
        for i, name in enumerate(rows):
            produced.append(i)
            yield Document(None, (Sentence((name, "x"), ("O", "O")),))

    calls = []

    class Watching(Fixed):
        def __call__(self, sentences):
            calls.append(len(produced))
            return super().__call__(sentences)

    watching = Watching(rows)
    selection = select(stream(), watching, budget=20, stream=PoolStream(chunk_sentences=256))
    assert calls[0] == 256 and len(calls) == math.ceil(3000 / 256)  # scored chunk by chunk as read
    assert watching.largest_call <= 256
    assert selection.settings["candidates"] == 20 * CANDIDATES_PER_PICK  # all that is kept
    # The buffer keeps the best: the chosen are among the pool's top candidates by score.
    scores = {name: sentence_score(np.array([p] * 2), DEFAULT_STRATEGY) for name, (p, _) in rows.items()}
    cutoff = sorted(scores.values(), reverse=True)[20 * CANDIDATES_PER_PICK - 1]
    assert all(scores[c.sentence.tokens[0]] >= cutoff for c in selection.choices)


def test_random_selection_is_a_seeded_uniform_sample():
    rows = {f"s{i}": ([0.9, 0.05, 0.05] if i < 50 else [0.4, 0.3, 0.3], [1.0, float(i), 0.0]) for i in range(100)}
    picks = [
        {
            c.sentence.tokens[0]
            for c in select(documents(list(rows)), Fixed(rows), budget=20, strategy="random", seed=s).choices
        }
        for s in (1, 1, 2)
    ]
    assert picks[0] == picks[1] and picks[0] != picks[2]
    assert all(len(p) == 20 for p in picks)
    # Unlike margin, random does not take only the uncertain half.
    assert any(int(name[1:]) < 50 for name in picks[0]) and any(int(name[1:]) < 50 for name in picks[2])
    margin = select(documents(list(rows)), Fixed(rows), budget=20, strategy="margin", diversity="off")
    assert all(int(c.sentence.tokens[0][1:]) >= 50 for c in margin.choices)


def test_the_classifier_predictor_agrees_with_predict_probs(tiny_classifier: Path):
    from nerqa.models.classifier import load_classifier
    from nerqa.models.predict import predict_probs

    classifier = load_classifier(tiny_classifier)
    classifier.max_length = 16  # the long sentence is cut into windows
    sentences = [s.tokens for s in TOY.sentences[:6]] + [
        tuple("the breast cancer risk was normal in the family".split() * 4)
    ]
    probs, embeddings = ClassifierPredictor(classifier)(sentences)
    expected = predict_probs(classifier, sentences)
    assert len(probs) == len(sentences)
    for p, e in zip(probs, expected):
        assert np.allclose(p, e, atol=1e-5)
    assert embeddings.shape == (len(sentences), classifier.model.config.hidden_size)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_cold_start_chooses_representatives_without_labels(tiny_model: Path):
    pool = [Document(None, (s,)) for s in TOY.sentences]
    selection = select(pool, EncoderPredictor(tiny_model), budget=2)
    assert selection.strategy == "cold start" and not selection.tags
    assert all(set(c.tags) == {"O"} and c.reason.startswith("cold start") for c in selection.choices)
    assert [c.score for c in selection.choices] == sorted((c.score for c in selection.choices), reverse=True)
    assert sum(c.cluster_size for c in selection.choices) == len(
        {s.tokens for s in TOY.sentences}
    )  # every distinct sentence sampled
    # TOY holds two kinds of sentence (a disease phrase, a family finding): one of each.
    assert {c.sentence.tokens[0] for c in selection.choices} == {"the", "we"}


def test_raw_text_pools_stream_a_line_or_a_file_at_a_time(tmp_path: Path):
    (tmp_path / "pool.txt").write_text(
        "Breast cancer risk. No mutation was found.\n\n   \nHD is rare.\n", encoding="utf-8"
    )
    stream = read_text_documents(tmp_path / "pool.txt")
    first = next(stream)
    assert first.id == "pool.txt:1" and [s.tokens for s in first.sentences] == [
        ("Breast", "cancer", "risk", "."),
        ("No", "mutation", "was", "found", "."),
    ]
    assert [d.id for d in stream] == ["pool.txt:4"]
    documents, total = open_pool(tmp_path / "pool.txt")
    assert total == 2 and len(list(documents)) == 2
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("One sentence here.", encoding="utf-8")
    (folder / "b.txt").write_text("Another one. And a third.", encoding="utf-8")
    (folder / "notes.md").write_text("not text", encoding="utf-8")
    documents, total = open_pool(folder)
    assert total == 2 and [(d.id, len(d.sentences)) for d in documents] == [("a", 1), ("b", 2)]
    (tmp_path / "bad.txt").write_bytes(b"fine line\nbad \xff byte\n")
    with pytest.raises(CorpusFormatError, match=r"bad.txt, line 2: not valid UTF-8: byte 0xff at column 5"):
        list(read_text_documents(tmp_path / "bad.txt"))


def test_a_corpus_pool_is_read_with_its_labels_ignored(tmp_path: Path):
    write_corpus(TOY, tmp_path / "pool.tsv")
    documents, total = open_pool(tmp_path / "pool.tsv")
    assert total == len(TOY.documents) and [s.tokens for d in documents for s in d.sentences] == [
        s.tokens for s in TOY.sentences
    ]
    documents, total = open_pool(tmp_path / "pool.tsv", text=True)  # --text: each line is a document of text
    lines = [line for line in (tmp_path / "pool.tsv").read_text().splitlines() if line.strip()]
    assert total == len(lines) and next(documents).sentences[0].tokens == tuple(lines[0].split())


def test_text_keys_match_across_tokenisations():
    assert text_key(["3'-UTR", "loss"]) == text_key(["3", "'", "-", "UTR", "loss"])
    assert text_key(["a", "b"]) != text_key(["a", "c"])


def test_tool_exports_skip_what_nobody_annotated(tmp_path: Path):
    tasks = [
        {
            "id": 1,
            "data": {"text": "HD is rare .", "doc_id": "p1", "sentences": [[0, 12]]},
            "annotations": [
                {
                    "was_cancelled": False,
                    "result": [{"type": "labels", "value": {"start": 0, "end": 2, "labels": ["Disease"]}}],
                }
            ],
        },
        {"id": 2, "data": {"text": "Not done ."}, "annotations": []},
        {"id": 3, "data": {"text": "Cancelled ."}, "annotations": [{"was_cancelled": True, "result": []}]},
    ]
    (tmp_path / "export.json").write_text(json.dumps(tasks, indent=2), encoding="utf-8")
    corpus = read_corpus(tmp_path / "export.json")
    assert [(d.id, [s.tags for s in d.sentences]) for d in corpus.documents] == [("p1", [("B-Disease", "O", "O", "O")])]
    prodigy = [
        {"text": "HD is rare .", "spans": [{"start": 0, "end": 2, "label": "D"}], "answer": "accept"},
        {"text": "Skip me .", "spans": [], "answer": "ignore"},
        {"text": "Wrong .", "spans": [], "answer": "reject"},
    ]
    (tmp_path / "prodigy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prodigy), encoding="utf-8")
    assert [s.tokens for s in read_corpus(tmp_path / "prodigy.jsonl").sentences] == [("HD", "is", "rare", ".")]
    (tmp_path / "broken.json").write_text('[\n {"data": {"text": "a"}},\n {"data": \n', encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"broken.json, line 4: invalid JSON"):
        read_corpus(tmp_path / "broken.json")


def test_the_review_queue_can_follow_model_uncertainty(tmp_path: Path):
    from review_helpers import review_audit

    from nerqa.review.decisions import DecisionStore
    from nerqa.review.session import ReviewSession

    result = review_audit()
    # Make sentence 7 the one the model is least sure of.
    result.pred_probs[7] = np.full_like(result.pred_probs[7], 1 / result.pred_probs[7].shape[1])
    with DecisionStore.open(tmp_path) as store:
        by_score = ReviewSession(result, store, "r")
        by_doubt = ReviewSession(result, store, "r", order="uncertainty")
        doubt = sentence_scores(result.pred_probs, DEFAULT_STRATEGY)
        assert sorted(i.id for i in by_score.issues) == sorted(i.id for i in by_doubt.issues)
        assert [doubt[i.index] for i in by_doubt.issues] == sorted(
            (doubt[i.index] for i in by_doubt.issues), reverse=True
        )
        assert by_doubt.queue()[0].index == 7 or 7 not in {i.index for i in by_doubt.issues}
        with pytest.raises(NerqaError, match="unknown order"):
            ReviewSession(result, store, "r", order="random")


def test_the_batch_keeps_documents_apart_and_together():
    rows = {f"s{i}": ([0.5, 0.3, 0.2], [1.0, float(i), 0.0]) for i in range(6)}
    pool = [
        Document(None, (Sentence(("s0", "x"), ("O", "O")),)),
        Document(None, (Sentence(("s1", "x"), ("O", "O")),)),
        Document("p9", tuple(Sentence((f"s{i}", "x"), ("O", "O")) for i in (2, 3, 4))),
        Document(None, (Sentence(("s5", "x"), ("O", "O")),)),
    ]
    corpus = select(pool, Fixed(rows), budget=6, diversity="off").corpus()
    assert [(d.id, [s.tokens[0] for s in d.sentences]) for d in corpus.documents] == [
        (None, ["s0"]),
        (None, ["s1"]),
        ("p9", ["s2", "s3", "s4"]),
        (None, ["s5"]),
    ]
    assert {t for s in corpus.sentences for t in s.tags} == {"O"}  # argmax of [0.5, 0.3, 0.2]


def test_streaming_a_pool_retains_nothing_per_sentence(tmp_path: Path):
    """Memory stays flat: after selecting from 4,000 lines of 12 never-seen words each, the
    process holds no object per sentence or word read (spaCy's shared vocabulary kept every
    word before segmentation ran in a memory zone)."""
    import gc
    import tracemalloc

    lines = [" ".join(f"w{i}x{j}" for j in range(12)) + " ." for i in range(4000)]
    (tmp_path / "pool.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = {}

    class Uniform:
        tags = TAGS

        def __call__(self, sentences):
            vectors = np.random.default_rng(len(sentences)).normal(size=(len(sentences), 8)).astype(np.float32)
            return [np.full((len(s), 3), 1 / 3) for s in sentences], vectors / np.linalg.norm(
                vectors, axis=1, keepdims=True
            )

    documents, _ = open_pool(tmp_path / "pool.txt")
    next(documents)  # the reader and spaCy are loaded before measuring
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    selection = select(documents, Uniform(), budget=10)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    retained = sum(stat.count_diff for stat in after.compare_to(before, "filename"))
    assert selection.counts["scored"] == 3999 and not rows
    # Objects, not bytes: spaCy's hash tables keep their grown capacity (8 blocks, 1.5 MB
    # here), but no object per word or sentence is left (before: ~52,000, one per word).
    assert retained < 2_000, f"{retained:,} objects retained"
