"""The audit: folds, resumable cache, issue typing, outputs, escaping."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import NCBI, needs_shared
from test_model import TOY, fast_config
from typer.testing import CliRunner

from nerqa.audit import score, write_outputs
from nerqa.audit.crossval import cross_validate, document_folds
from nerqa.audit.issues import inconsistent_issues, span_issues
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import parse_text, read_corpus
from nerqa_cli.main import app

TAGS = ("O", "B-D", "I-D", "B-C", "I-C")


def one_hot(tags: list[str], confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(tags), len(TAGS)), (1 - confidence) / (len(TAGS) - 1), dtype=np.float32)
    for i, t in enumerate(tags):
        probs[i, TAGS.index(t)] = confidence
    return probs


def test_folds_are_grouped_by_document_and_balanced():
    documents = tuple(Document(f"d{i}", tuple(Sentence(("x",), ("O",)) for _ in range(1 + i % 3))) for i in range(20))
    corpus = Corpus(documents)
    folds = document_folds(corpus, 5, seed=1)
    for doc_index in range(20):
        assert len({folds[i] for i, d in enumerate(corpus.sentence_doc_index) if d == doc_index}) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 3


def test_span_issue_types():
    given = ["B-D", "I-D", "O", "B-C", "O", "O", "B-D", "I-D", "I-D", "O"]
    model = ["B-C", "I-C", "O", "O", "O", "B-D", "O", "B-D", "I-D", "O"]
    corpus = Corpus((Document("a", (Sentence(tuple("abcdefghij"), tuple(given)),)),))
    issues = {(i.type, i.start, i.end): i for i in span_issues(corpus, [one_hot(model)], TAGS)}
    assert set(issues) == {("wrong_tag", 0, 2), ("ghost_span", 3, 4), ("missed_span", 5, 6), ("span_shift", 6, 9)}
    assert issues[("wrong_tag", 0, 2)].suggested == "C"
    shift = issues[("span_shift", 6, 9)]
    assert (shift.suggested_start, shift.suggested_end) == (7, 9)
    assert all(i.score < 0.1 for i in issues.values())


def _sentences(*rows: tuple[str, list[str]]) -> Corpus:
    return Corpus(
        tuple(Document(f"d{n}", (Sentence(tuple(text.split()), tuple(tags)),)) for n, (text, tags) in enumerate(rows))
    )


def test_span_scores_weigh_the_model_against_the_rest_of_the_corpus():
    # "WAS" is labeled D in four other sentences: the model's doubt in sentence 0 is
    # outweighed. "number" is untagged in four other sentences: labeling it in sentence 5
    # is more suspicious than the model alone says.
    rows = [("the WAS gene", ["O", "B-D", "O"])] + [("WAS patients", ["B-D", "O"])] * 4
    rows += [("a number here", ["O", "B-D", "O"])] + [("a number", ["O", "O"])] * 4
    corpus = _sentences(*rows)
    probs = (
        [one_hot(["O", "O", "O"])]
        + [one_hot(["B-D", "O"])] * 4
        + [one_hot(["O", "O", "O"], 0.6)]
        + [one_hot(["O", "O"])] * 4
    )
    issues = {i.index: i for i in span_issues(corpus, probs, TAGS)}
    assert set(issues) == {0, 5}
    was, number = issues[0], issues[5]
    assert was.type == number.type == "ghost_span"
    assert (was.agree, was.elsewhere) == (4, 4) and (number.agree, number.elsewhere) == (0, 4)
    assert was.score == pytest.approx((4 + was.model_score) / 5, abs=1e-6) and was.score > 0.8
    assert number.score == pytest.approx(number.model_score / 5, abs=1e-6) and number.score < number.model_score
    assert "read D 4 of 4 times" in was.reason
    # Without other occurrences the score is the model's alone.
    alone = span_issues(_sentences(rows[0]), probs[:1], TAGS)[0]
    assert alone.score == alone.model_score and alone.elsewhere == 0


def test_sentence_scores_rank_by_the_worst_span_issue_then_cleanlab():
    from nerqa.audit import sentence_quality
    from nerqa.audit.issues import Issue

    def issue(index: int, score: float, kind: str = "ghost_span") -> Issue:
        return Issue(
            id="",
            index=index,
            doc_id=None,
            start=0,
            end=1,
            type=kind,
            given="D",
            suggested="O",
            score=score,
            text="x",
            reason="",
        )

    issues = [issue(0, 0.3), issue(0, 0.1), issue(1, 0.2), issue(2, 0.0, "inconsistent")]
    scores = sentence_quality(4, issues, np.array([0.9, 0.1, 0.5, 0.2]))
    assert list(np.argsort(scores)) == [0, 1, 3, 2] and scores.min() >= 0 and scores.max() <= 1


def test_inconsistent_surface_forms_rank_by_lopsidedness():
    text = "\n\n".join(["HD\tB-A"] * 8 + ["HD\tB-B"] * 1 + ["HD\tO"] * 3 + ["x\tB-A"])
    issues = inconsistent_issues(parse_text(text, "conll"))
    readings = sorted((i.given, i.suggested, i.score) for i in issues)
    assert readings == [("B", "A", pytest.approx(1 / 12, abs=1e-6))] + [("O", "A", 0.25)] * 3


def test_each_span_is_one_issue_with_all_its_evidence():
    # "WAS" in sentence 0 is labeled D against the model (a ghost span) and against the corpus
    # (untagged in the four other places: a minority reading), and D is a rare type: one issue.
    rows = (
        [("the WAS gene", ["O", "B-D", "O"])] + [("WAS patients", ["O", "O"])] * 4 + [("other text", ["B-C", "O"])] * 60
    )
    corpus = _sentences(*rows)
    probs = [one_hot(["O", "O", "O"])] + [one_hot(["O", "O"])] * 4 + [one_hot(["B-C", "O"])] * 60
    result = score(corpus, probs, TAGS)
    on_was = [i for i in result.issues if i.index == 0]
    assert len(on_was) == 1
    issue = on_was[0]
    assert issue.type == "ghost_span" and (issue.start, issue.end) == (1, 2) and issue.suggested == "O"
    assert issue.evidence == ("ghost_span", "inconsistent", "sparse")
    assert (
        "the model sees no entity here" in issue.reason
        and "reads O 4, D 1 across the corpus" in issue.reason
        and "only 1 entities" in issue.reason
    )
    # Ranked once, by the model issue's score (which already counts the other readings); every
    # span of the audit appears once.
    assert issue.score == next(i.score for i in span_issues(corpus, probs, TAGS) if i.index == 0)
    spans = [(i.index, i.start, i.end) for i in result.issues]
    assert len(spans) == len(set(spans))
    assert result.summary["issues"]["total"] == len(result.issues)


@needs_shared
def test_hd_is_inconsistent_in_ncbi_training_data():
    corpus = read_corpus(NCBI / "original/NCBI_corpus_training.txt")
    hd = [i for i in inconsistent_issues(corpus) if i.text == "HD"]
    assert hd and {i.given for i in hd} == {"SpecificDisease"} and hd[0].suggested == "Modifier"


def test_killed_audit_resumes_at_the_next_fold(tiny_model: Path, tmp_path: Path, monkeypatch):
    import nerqa.models.training as training

    calls = []
    real_train = training.train

    def counting_train(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(training, "train", counting_train)
    config = fast_config(tiny_model, epochs=1)

    def kill_after_second(task, done, total, info):
        if task == "fold" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cross_validate(TOY, config, k=4, cache_dir=tmp_path, progress=kill_after_second)
    assert len(calls) == 2
    result = cross_validate(TOY, config, k=4, cache_dir=tmp_path)
    assert len(calls) == 4 and result.cached_folds == [0, 1]
    again = cross_validate(TOY, config, k=4, cache_dir=tmp_path)
    assert len(calls) == 4 and again.cached_folds == [0, 1, 2, 3]
    for a, b in zip(result.pred_probs, again.pred_probs):
        np.testing.assert_array_equal(a, b)
    assert [len(p) for p in result.pred_probs] == [len(s) for s in TOY.sentences]


def test_folds_computed_in_another_number_format_are_not_reused(tiny_model: Path, tmp_path: Path, monkeypatch):
    import nerqa.models.runtime as model

    config = fast_config(tiny_model, epochs=1, precision="fp32")
    monkeypatch.setattr(model, "native_bf16", lambda: False)
    first = cross_validate(TOY, config, k=3, mode="fast", cache_dir=tmp_path)
    assert cross_validate(TOY, config, k=3, mode="fast", cache_dir=tmp_path).cached_folds == [0, 1, 2]
    # The same settings on a CPU that computes in bf16: the fp32 folds are not its answer.
    monkeypatch.setattr(model, "native_bf16", lambda: True)
    bf16 = cross_validate(TOY, config, k=3, mode="fast", cache_dir=tmp_path)
    assert first.cached_folds == bf16.cached_folds == []


def test_auto_precision_is_bf16_on_cpus_that_compute_it_natively(monkeypatch):
    import nerqa.models.training as training
    from nerqa.config import TrainConfig

    monkeypatch.setattr(training.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(training, "native_bf16", lambda: True)
    assert training.mixed_precision(TrainConfig()) == {"bf16": True}
    assert training.mixed_precision(TrainConfig(precision="fp32")) == {"fp16": False, "bf16": False}
    monkeypatch.setattr(training, "native_bf16", lambda: False)
    assert training.mixed_precision(TrainConfig()) == {}


def test_dynamics_cover_each_sentence_in_every_fold_it_trains_and_are_cached(tiny_model: Path, tmp_path: Path):
    config = fast_config(tiny_model, epochs=2)
    plain = cross_validate(TOY, config, k=3, mode="full", cache_dir=tmp_path)
    assert plain.dynamics is None
    # Folds cached without dynamics are computed again when dynamics are asked for.
    first = cross_validate(TOY, config, k=3, mode="both", cache_dir=tmp_path, dynamics=True)
    assert first.cached_folds == []
    assert [d.shape for d in first.dynamics] == [(2 * 2, len(s), 3) for s in TOY.sentences]  # 2 folds x 2 epochs
    again = cross_validate(TOY, config, k=3, mode="both", cache_dir=tmp_path, dynamics=True)
    assert again.cached_folds == [0, 1, 2]
    for a, b in zip(first.dynamics, again.dynamics):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(plain.pred_probs, cross_validate(TOY, config, k=3, mode="full", cache_dir=tmp_path).pred_probs):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_scores_read_the_training_dynamics_beside_the_out_of_sample_probs(tiny_model: Path):
    from nerqa.audit import DYNAMICS_WEIGHT, with_dynamics

    probs, dynamics = [np.array([[0.8, 0.2]])], [np.array([[[0.2, 0.8]], [[0.4, 0.6]]], dtype=np.float16)]
    np.testing.assert_allclose(
        with_dynamics(probs, dynamics, 0.25)[0], [[0.75 * 0.8 + 0.25 * 0.3, 0.75 * 0.2 + 0.25 * 0.7]], rtol=1e-3
    )
    assert with_dynamics(probs, [None], 0.25)[0] is probs[0]

    cv = cross_validate(TOY, fast_config(tiny_model, epochs=2), k=3, mode="full", dynamics=True)
    plain = score(TOY, cv.pred_probs, cv.tags)
    mixed = score(TOY, cv.pred_probs, cv.tags, crossval=cv)
    by_hand = score(TOY, with_dynamics(cv.pred_probs, cv.dynamics, DYNAMICS_WEIGHT), cv.tags)
    np.testing.assert_allclose(mixed.cleanlab_scores, by_hand.cleanlab_scores)
    assert not np.allclose(mixed.cleanlab_scores, plain.cleanlab_scores)
    # What is saved and measured stays out-of-sample.
    assert all(a is b for a, b in zip(mixed.pred_probs, cv.pred_probs))
    assert mixed.summary["cv_metrics"] == plain.summary["cv_metrics"]


def test_fast_mode_gives_out_of_sample_probs(tiny_model: Path):
    result = cross_validate(TOY, fast_config(tiny_model), k=3, mode="fast")
    assert [p.shape for p in result.pred_probs] == [(len(s), 3) for s in TOY.sentences]
    np.testing.assert_allclose(np.concatenate(result.pred_probs).sum(axis=1), 1.0, atol=1e-5)


def test_both_mode_averages_the_full_and_fast_folds_and_reuses_their_caches(tiny_model: Path, tmp_path: Path):
    config = fast_config(tiny_model, epochs=1)
    seen = []
    both = cross_validate(
        TOY,
        config,
        k=3,
        mode="both",
        cache_dir=tmp_path,
        progress=lambda task, done, total, info: seen.append((done, total)) if task == "fold" else None,
    )
    assert seen == [(n, 6) for n in range(1, 7)]
    full = cross_validate(TOY, config, k=3, mode="full", cache_dir=tmp_path)
    fast = cross_validate(TOY, config, k=3, mode="fast", cache_dir=tmp_path)
    assert full.cached_folds == fast.cached_folds == [0, 1, 2]
    for mean, a, b in zip(both.pred_probs, full.pred_probs, fast.pred_probs):
        np.testing.assert_allclose(mean, (a + b) / 2, rtol=1e-6)
    assert not np.allclose(np.concatenate(full.pred_probs), np.concatenate(fast.pred_probs))


def test_outputs_follow_the_contract_and_escape_hostile_text(tmp_path: Path):
    hostile = "<script>alert(1)</script>"
    label = "<img src=x onerror=alert(1)>"
    corpus = Corpus((Document("d<1>", (Sentence(("a", hostile, "b"), ("O", f"B-{label}", "O")),)),))
    tags = ("O", f"B-{label}", f"I-{label}")
    probs = [np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.9, 0.05, 0.05]], dtype=np.float32)]
    result = score(corpus, probs, tags)
    written = write_outputs(result, tmp_path)
    assert {p.name for p in written} == {
        "sentences.jsonl",
        "issues.jsonl",
        "issues.csv",
        "summary.json",
        "report.html",
        "pred_probs.npz",
    }
    sentence = json.loads((tmp_path / "sentences.jsonl").read_text())
    assert set(sentence) == {"index", "doc_id", "score", "n_issues", "cleanlab_score"} and 0 <= sentence["score"] <= 1
    issue = json.loads((tmp_path / "issues.jsonl").read_text().splitlines()[0])
    assert {"id", "index", "doc_id", "start", "end", "type", "given", "suggested", "score", "text"} <= set(issue)
    assert issue["type"] == "ghost_span" and issue["text"] == hostile
    page = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    embedded = page.split('<script type="application/json" id="summary">')[1].split("</script>")[0]
    assert json.loads(embedded) == json.loads(
        (tmp_path / "summary.json").read_text()
    )  # parses, as a browser's JSON.parse reads it
    assert "document d&lt;1&gt;" in page and "document None" not in page


def test_audit_command_on_a_small_corpus(tiny_model: Path, tmp_path: Path):
    from nerqa.data.formats import write_corpus

    write_corpus(TOY, tmp_path / "toy.tsv")
    result = CliRunner().invoke(
        app,
        [
            "audit",
            str(tmp_path / "toy.tsv"),
            "--model",
            str(tiny_model),
            "-k",
            "3",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["corpus"]["sentences"] == len(TOY) and len(summary["timings"]["fold_seconds"]) == 3
    lines = (tmp_path / "out" / "sentences.jsonl").read_text().splitlines()
    assert len(lines) == len(TOY)


@pytest.mark.slow
def test_demo_audit_with_the_real_model_finds_the_planted_errors(tmp_path: Path):
    """The README's main command: real MiniLM, 5 folds, on the shipped demo corpus."""
    from conftest import DEMO

    result = CliRunner().invoke(app, ["audit", str(DEMO / "abstracts.txt"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output + result.stderr
    planted = json.loads((DEMO / "planted.json").read_text())
    issues = [json.loads(line) for line in (tmp_path / "issues.jsonl").read_text().splitlines()]
    top = issues[: 3 * len(planted)]
    found = [
        p
        for p in planted
        if any(i["doc_id"] == p["doc_id"] and p["text"] in i["text"] + " " + i["reason"] for i in top)
    ]
    assert len(found) >= 0.8 * len(planted), (found, top[:10])


def test_hostile_report_renders_as_text_in_headless_chromium(tmp_path: Path):
    import shutil
    import subprocess

    binary = shutil.which("chromium")
    if binary is None:
        # CI installs chromium (.ci/run): there, a missing browser is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should have installed it")
        pytest.skip("Debian's chromium is not installed")
    hostile = "<script>alert(1)</script>"
    corpus = Corpus((Document("d", (Sentence(("a", hostile, "b"), ("O", "B-<img src=x onerror=alert(1)>", "O")),)),))
    tags = ("O", "B-<img src=x onerror=alert(1)>", "I-<img src=x onerror=alert(1)>")
    write_outputs(score(corpus, [np.full((3, 3), 1 / 3, dtype=np.float32)], tags), tmp_path)
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        (tmp_path / "report.html").as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    assert "nerqa audit" in dom
    assert "<script>alert" not in dom and "<img src=x" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_report_draws_each_entity_type_in_its_own_colour():
    import re

    from nerqa.audit.report import render_html

    corpus = _sentences(("aspirin eases headache", ["B-C", "O", "B-D"]), ("aspirin eases pain", ["B-C", "O", "B-D"]))
    result = score(corpus, [one_hot(["B-D", "O", "B-D"]), one_hot(["B-C", "O", "B-D"])], TAGS)
    page = render_html(result)
    colours = {
        label: set(re.findall(r'background: ([^;"]+);[^>]*>\s*[^<]*<span[^>]*>' + label + "<", page))
        for label in ("C", "D")
    }
    assert len(colours["C"]) == len(colours["D"]) == 1, colours
    assert colours["C"] != colours["D"]


def test_reference_sentences_train_every_fold_and_are_never_audited(tiny_model: Path, monkeypatch):
    import nerqa.models.head

    calls = []

    def spy(features, labels, train_idx, test_idx, n_tags, **_):
        calls.append((set(map(int, train_idx)), list(map(int, test_idx))))
        return [np.full((len(features[i]), n_tags), 1 / n_tags, dtype=np.float32) for i in test_idx]

    monkeypatch.setattr(nerqa.models.head, "fit_head", spy)
    batch = Corpus(TOY.documents[:12])
    trusted = Corpus(TOY.documents[12:])
    result = cross_validate(batch, fast_config(tiny_model), k=3, mode="fast", reference=trusted)
    assert len(result.pred_probs) == len(batch) and all(p is not None for p in result.pred_probs)
    reference = set(range(len(batch), len(batch) + len(trusted)))
    assert len(calls) == 3
    for train, test in calls:
        assert reference <= train  # the whole reference is behind every fold
        assert all(i < len(batch) for i in test) and not set(test) & train
    assert sorted(i for _, test in calls for i in test) == list(range(len(batch)))  # each batch sentence predicted once
    # The summary says what the reference was.
    audited = score(batch, result.pred_probs, result.tags)
    assert len(audited.sentence_scores) == len(batch)


def test_audit_reference_that_does_not_exist_is_one_line(tmp_path: Path):
    corpus = tmp_path / "batch.conll"
    corpus.write_text("HD\tB-D\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["audit", str(corpus), "--reference", str(tmp_path / "missing.conll"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "missing.conll" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
