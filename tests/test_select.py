"""Active learning (`nerqa.active.select`, `nerqa select`): scores, the candidate buffer, the
diversity guard, pools, batches in every output, bad input, and the loop end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from test_model import TOY
from typer.testing import CliRunner

from nerqa.active.select import (
    CANDIDATES_PER_PICK,
    DEFAULT_STRATEGY,
    STRATEGIES,
    ClassifierPredictor,
    EncoderPredictor,
    labeled_keys,
    open_pool,
    reason,
    select,
    sentence_score,
    sentence_scores,
)
from nerqa.data.corpus import Corpus, Document, Sentence, text_key
from nerqa.data.formats import read_corpus, read_text_documents, write_corpus
from nerqa.errors import CorpusFormatError, NerqaError
from nerqa_cli.main import app

runner = CliRunner()
TAGS = ("O", "B-D", "I-D")


def varied_corpus() -> Corpus:
    """42 distinct sentences in the tiny model's vocabulary: 30 with a disease phrase, 12 without."""
    sentences = []
    for first in "breast colon ovarian marfan cystic huntington".split():
        for second in "cancer syndrome tumour carcinoma disease".split():
            sentences.append(
                Sentence(
                    ("the", first, second, "risk", "was", "normal", "."),
                    ("O", "B-Disease", "I-Disease", "O", "O", "O", "O"),
                )
            )
    for what in ("mutation", "mutations", "gene"):
        for where in ("family", "families", "cells", "patients"):
            sentences.append(Sentence(("we", "found", "no", what, "in", "the", where, "."), ("O",) * 8))
    order = np.random.default_rng(0).permutation(len(sentences))
    return Corpus(tuple(Document(f"doc{i}", (sentences[j],)) for i, j in enumerate(order)))


VARIED = varied_corpus()
SURE = [1.0, 0.0, 0.0]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


# --- scores -----------------------------------------------------------------------------------


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


# --- select() with a stand-in model -------------------------------------------------------------


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
    selection = select(stream(), watching, budget=20, chunk_sentences=256)
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


# --- real (tiny) models -----------------------------------------------------------------------


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


# --- pools ------------------------------------------------------------------------------------


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


# --- the command --------------------------------------------------------------------------------


def pool_file(folder: Path) -> Path:
    """12 distinct sentences of VARIED, then 3 of them again."""
    lines = [" ".join(s.tokens) for s in VARIED.sentences[:12]]
    path = folder / "pool.txt"
    path.write_text("\n".join(lines + lines[:3]) + "\n", encoding="utf-8")
    return path


def test_select_writes_a_pre_annotated_batch_with_scores_and_reasons(tiny_classifier: Path, tmp_path: Path):
    pool = pool_file(tmp_path)
    result = invoke("select", pool, "--model", tiny_classifier, "--budget", 3, "--out", tmp_path / "batch")
    assert result.exit_code == 0, result.output + result.stderr
    folder = tmp_path / "batch"
    assert sorted(p.name for p in folder.iterdir()) == ["batch.jsonl", "select.log", "selection.jsonl", "summary.json"]
    records = [json.loads(line) for line in (folder / "selection.jsonl").read_text().splitlines()]
    assert [r["rank"] for r in records] == [1, 2, 3]
    assert all(r["strategy"] == DEFAULT_STRATEGY and r["reason"].startswith(f"{DEFAULT_STRATEGY}: ") for r in records)
    # Ranks follow the guard's picks: most uncertain first, near-copies (if any had to fill
    # the batch) after the sentences that are not.
    summary = json.loads((folder / "summary.json").read_text())
    if summary["settings"]["near_copies_used"] == 0:
        assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)
    batch = read_corpus(folder / "batch.jsonl")
    assert sorted(" ".join(s.tokens) for s in batch.sentences) == sorted(r["text"] for r in records)
    summary = json.loads((folder / "summary.json").read_text())
    assert (
        summary["counts"]["duplicates"] == 3
        and summary["counts"]["scored"] == 12
        and summary["strategy"] == DEFAULT_STRATEGY
    )
    assert "pool documents 15/15 (12 sentences scored)" in (folder / "select.log").read_text()
    assert "Chose 3 of 12 new sentences (15 read, 0 already labeled, 3 repeats)" in result.output


@pytest.mark.parametrize("tool", ["labelstudio", "prodigy", "doccano"])
def test_select_writes_annotation_tool_tasks(tiny_classifier: Path, tmp_path: Path, tool: str):
    pool = pool_file(tmp_path)
    result = invoke(
        "select", pool, "--model", tiny_classifier, "--budget", 4, "--to", tool, "--out", tmp_path / "batch"
    )
    assert result.exit_code == 0, result.output + result.stderr
    folder = tmp_path / "batch"
    if tool == "labelstudio":
        tasks = json.loads((folder / "tasks.json").read_text())
        assert (
            (folder / "labelstudio.xml").read_text().strip()
            == '<View><Labels name="label" toName="text"><Label value="Disease"/></Labels><Text name="text" '
            'value="$text"/></View>'
        )
        fields = [t["data"]["nerqa"] for t in tasks]
        assert [t["predictions"][0]["score"] for t in tasks] == [0.0, 0.25, 0.5, 0.75]
    else:
        tasks = [json.loads(line) for line in (folder / "tasks.jsonl").read_text().splitlines()]
        fields = [t["nerqa"] for t in tasks]
    assert [f["rank"] for f in fields] == [1, 2, 3, 4] and all(f["reason"].startswith(DEFAULT_STRATEGY) for f in fields)
    if tool == "prodigy":
        assert all(t["meta"]["reason"] == f["reason"] for t, f in zip(tasks, fields))


def test_select_skips_the_labeled_corpus(tiny_classifier: Path, tmp_path: Path):
    pool = pool_file(tmp_path)
    write_corpus(Corpus(VARIED.documents[:4]), tmp_path / "seed.tsv")
    result = invoke(
        "select",
        pool,
        "--model",
        tiny_classifier,
        "--labeled",
        tmp_path / "seed.tsv",
        "--budget",
        8,
        "--out",
        tmp_path / "batch",
    )
    assert result.exit_code == 0, result.output + result.stderr
    chosen = {r["text"] for r in map(json.loads, (tmp_path / "batch" / "selection.jsonl").read_text().splitlines())}
    seed = {" ".join(s.tokens) for s in VARIED.sentences[:4]}
    assert len(chosen) == 8 and not chosen & seed


def test_select_cold_start_needs_no_model(tiny_model: Path, tmp_path: Path):
    result = invoke(
        "select",
        pool_file(tmp_path),
        "--encoder",
        tiny_model,
        "--budget",
        2,
        "--out",
        tmp_path / "batch",
        "--to",
        "conll",
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "cold start" in result.stderr
    batch = read_corpus(tmp_path / "batch" / "batch.tsv")
    assert len(batch) == 2 and {t for s in batch.sentences for t in s.tags} == {"O"}


def one_error_line(result, text: str, out: Path) -> None:
    assert result.exit_code == 1, result.output
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("Note:", "0", "1", "2"))
    ]
    assert len(lines) == 1 and lines[0].startswith("Error:") and text in lines[0], result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()  # nothing written, not even the folder


def test_bad_input_is_one_line_and_writes_nothing(tiny_model: Path, tiny_classifier: Path, tmp_path: Path):
    out = tmp_path / "batch"
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    one_error_line(
        invoke("select", tmp_path / "empty.txt", "--model", tiny_classifier, "--budget", 2, "--out", out),
        "empty.txt: the file is empty",
        out,
    )
    pool = pool_file(tmp_path)
    one_error_line(
        invoke("select", pool, "--model", tiny_classifier, "--budget", 13, "--out", out),
        "the pool holds 12 new sentences (15 read, 0 already labeled, 3 repeats): fewer than the budget of 13",
        out,
    )
    one_error_line(invoke("select", pool, "--model", tiny_model, "--budget", 2, "--out", out), "are not IOB tags", out)
    one_error_line(
        invoke("select", pool, "--model", tiny_classifier, "--budget", 0, "--out", out),
        "--budget must be at least 1",
        out,
    )
    one_error_line(
        invoke("select", pool, "--model", tiny_classifier, "--budget", 2, "--strategy", "bald", "--out", out),
        "--strategy must be one of",
        out,
    )
    one_error_line(
        invoke("select", pool, "--model", tiny_classifier, "--budget", 2, "--to", "excel", "--out", out),
        "--to must be one of",
        out,
    )
    one_error_line(
        invoke("select", tmp_path / "missing.txt", "--model", tiny_classifier, "--budget", 2, "--out", out),
        "missing.txt: no such file",
        out,
    )


# --- the loop -----------------------------------------------------------------------------------


def annotate_in_label_studio(tasks: list[dict], gold: dict[str, Sentence]) -> list[dict]:
    """What Label Studio's JSON export holds once a person has annotated every task: the
    task, its predictions, and an annotation whose result has the gold spans."""
    from nerqa.interop.tasks import labelstudio_result

    exported = []
    for number, task in enumerate(tasks, start=1):
        sentence = gold[task["data"]["text"]]
        result = labelstudio_result(sentence.tokens, sentence.spans, "a")
        exported.append(
            {
                "id": number,
                "data": task["data"],
                "predictions": task["predictions"],
                "annotations": [{"id": 100 + number, "completed_by": 1, "was_cancelled": False, "result": result}],
            }
        )
    return exported


def test_the_active_learning_loop_end_to_end(tiny_model: Path, tmp_path: Path):
    """train on the seed -> select -> annotate (simulated) -> merge -> train again."""
    seed, rest = Corpus(VARIED.documents[:10]), Corpus(VARIED.documents[10:])
    write_corpus(seed, tmp_path / "seed.tsv")
    (tmp_path / "pool.txt").write_text("".join(" ".join(s.tokens) + "\n" for s in VARIED.sentences), encoding="utf-8")
    train = ["--model", tiny_model, "--epochs", "4", "--lr", "0.01", "--patience", "10"]
    assert invoke("train", tmp_path / "seed.tsv", "--out", tmp_path / "model1", *train).exit_code == 0
    result = invoke(
        "select",
        tmp_path / "pool.txt",
        "--model",
        tmp_path / "model1",
        "--labeled",
        tmp_path / "seed.tsv",
        "--budget",
        2,
        "--to",
        "labelstudio",
        "--out",
        tmp_path / "batch1",
    )
    assert result.exit_code == 0, result.output + result.stderr
    tasks = json.loads((tmp_path / "batch1" / "tasks.json").read_text())
    gold = {" ".join(s.tokens): s for s in rest.sentences}
    assert len(tasks) == 2 and all(t["data"]["text"] in gold for t in tasks)  # never a seed sentence
    export = tmp_path / "export.json"
    export.write_text(json.dumps(annotate_in_label_studio(tasks, gold), indent=1), encoding="utf-8")
    result = invoke("convert", tmp_path / "seed.tsv", tmp_path / "labeled.tsv", "--merge", export)
    assert result.exit_code == 0, result.output + result.stderr
    labeled = read_corpus(tmp_path / "labeled.tsv")
    assert len(labeled) == len(seed) + 2
    assert [(s.tokens, s.tags) for s in labeled.sentences[len(seed) :]] == [
        (gold[t["data"]["text"]].tokens, gold[t["data"]["text"]].tags) for t in tasks
    ]
    again = invoke("convert", tmp_path / "labeled.tsv", tmp_path / "labeled2.tsv", "--merge", export)
    assert "2 sentences already present were left out" in again.output and len(
        read_corpus(tmp_path / "labeled2.tsv")
    ) == len(labeled)
    assert invoke("train", tmp_path / "labeled.tsv", "--out", tmp_path / "model2", *train).exit_code == 0
    assert json.loads((tmp_path / "model2" / "metrics.json").read_text())["train_sentences"] == len(labeled)
    # The next round skips everything labeled so far.
    result = invoke(
        "select",
        tmp_path / "pool.txt",
        "--model",
        tmp_path / "model2",
        "--labeled",
        tmp_path / "labeled.tsv",
        "--budget",
        2,
        "--out",
        tmp_path / "batch2",
    )
    assert result.exit_code == 0, result.output + result.stderr
    second = {r["text"] for r in map(json.loads, (tmp_path / "batch2" / "selection.jsonl").read_text().splitlines())}
    assert not second & {" ".join(s.tokens) for s in labeled.sentences}


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


def test_merge_leaves_out_sentences_already_present():
    base = Corpus(TOY.documents[:2])
    other = Corpus(TOY.documents[1:4])
    merged, left_out = base.merged(other)
    assert left_out == sum(
        1 for s in other.sentences if text_key(s.tokens) in {text_key(t.tokens) for t in base.sentences}
    )
    assert len(merged) == len(base) + len(other) - left_out
    assert merged.merged(other)[1] == len(other)


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


def test_relabel_exports_tasks_in_uncertainty_order(tmp_path: Path):
    from review_helpers import review_audit

    from nerqa.audit import write_outputs

    result = review_audit()
    # The model is unsure of every word of sentence 3 only; its issue is not the most suspicious.
    result.pred_probs[3] = np.full_like(result.pred_probs[3], 1 / result.pred_probs[3].shape[1])
    write_corpus(result.corpus, tmp_path / "corpus.jsonl")
    write_outputs(result, tmp_path / "audit")
    by_score = invoke(
        "tasks",
        tmp_path / "corpus.jsonl",
        tmp_path / "audit",
        "--out",
        tmp_path / "score.jsonl",
        "--tool",
        "doccano",
    )
    by_doubt = invoke(
        "tasks",
        tmp_path / "corpus.jsonl",
        tmp_path / "audit",
        "--out",
        tmp_path / "doubt.jsonl",
        "--tool",
        "doccano",
        "--order",
        "uncertainty",
    )
    assert by_score.exit_code == 0 and by_doubt.exit_code == 0, by_doubt.output
    read = lambda name: [json.loads(line)["nerqa"] for line in (tmp_path / name).read_text().splitlines()]  # noqa: E731
    from nerqa.audit.folder import load_audit

    result = load_audit(tmp_path / "audit", read_corpus(tmp_path / "corpus.jsonl"))
    doubt = sentence_scores(result.pred_probs, DEFAULT_STRATEGY)
    score_order, doubt_order = read("score.jsonl"), read("doubt.jsonl")
    assert sorted(t["issue_id"] for t in score_order) == sorted(t["issue_id"] for t in doubt_order)
    assert [doubt[t["index"]] for t in doubt_order] == sorted((doubt[t["index"]] for t in doubt_order), reverse=True)
    assert [t["score"] for t in score_order] == sorted(t["score"] for t in score_order)
    assert doubt_order[0]["index"] == 3 and score_order[0]["index"] != 3
    bad = invoke("relabel", tmp_path / "corpus.jsonl", tmp_path / "audit", "--order", "newest")
    assert bad.exit_code == 1 and "--order must be one of score, uncertainty" in bad.stderr


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


def test_an_unwritable_output_folder_fails_before_any_work(
    tiny_classifier: Path, tmp_path: Path, read_only_folder: Path
):
    out = read_only_folder / "batch"
    result = invoke("select", pool_file(tmp_path), "--model", tiny_classifier, "--budget", 2, "--out", out)
    one_error_line(result, "cannot write here", out)


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
