"""An audit folder read back (`load_audit`), stable issue ids, fold subsets, and the audit
command's checks and progress."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO
from test_model import TOY, fast_config
from typer.testing import CliRunner

from nerqa.audit import audit, score, write_outputs
from nerqa.audit.crossval import cross_validate
from nerqa.audit.folder import load_audit
from nerqa.audit.issues import sentence_keys
from nerqa.data.corpus import Corpus, Document, Sentence
from nerqa.data.formats import write_corpus
from nerqa.errors import AuditFolderError
from nerqa_cli.main import app

runner = CliRunner()


def with_doc_ids(corpus: Corpus) -> Corpus:
    """TOY's sentences grouped two by two into documents with ids."""
    sentences = corpus.sentences
    return Corpus(tuple(Document(f"doc{i // 2}", tuple(sentences[i : i + 2])) for i in range(0, len(sentences), 2)))


def relabel(corpus: Corpus, index: int, position: int, tag: str) -> Corpus:
    """A copy of the corpus with one tag changed."""
    documents, n = [], 0
    for doc in corpus.documents:
        sentences = []
        for sentence in doc.sentences:
            if n == index:
                tags = list(sentence.tags)
                tags[position] = tag
                sentence = Sentence(sentence.tokens, tuple(tags))
            sentences.append(sentence)
            n += 1
        documents.append(Document(doc.id, tuple(sentences)))
    return Corpus(tuple(documents))


@pytest.fixture(scope="module")
def audited(tiny_model: Path, tmp_path_factory):
    corpus = with_doc_ids(TOY)
    folder = tmp_path_factory.mktemp("audit")
    config = fast_config(tiny_model, epochs=1)
    result = audit(corpus, config, k=3, mode="fast", cache_dir=folder / "cache")
    write_outputs(result, folder)
    return corpus, config, folder, result


def test_load_audit_gives_back_what_audit_returned(audited):
    corpus, _, folder, result = audited
    loaded = load_audit(folder, corpus)
    assert loaded.issues == result.issues and len(result.issues) > 5
    assert loaded.tags == result.tags and loaded.summary == result.summary
    np.testing.assert_array_equal(loaded.sentence_scores, result.sentence_scores)
    np.testing.assert_array_equal(loaded.cleanlab_scores, result.cleanlab_scores)
    for a, b in zip(loaded.pred_probs, result.pred_probs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_audit_refuses_another_corpus_and_damaged_folders(audited, tmp_path: Path):
    corpus, _, folder, _ = audited
    other = relabel(corpus, 0, 1, "O")
    with pytest.raises(AuditFolderError, match="not of the corpus given"):
        load_audit(folder, other)
    with pytest.raises(AuditFolderError, match="summary.json: no such file"):
        load_audit(tmp_path, corpus)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("summary.json", "sentences.jsonl", "pred_probs.npz"):
        (copy / name).write_bytes((folder / name).read_bytes())
    (copy / "issues.jsonl").write_text((folder / "issues.jsonl").read_text().splitlines()[0] + "\n{broken\n")
    with pytest.raises(AuditFolderError, match=r"issues.jsonl, line 2: not JSON"):
        load_audit(copy, corpus)


def test_issue_ids_survive_a_relabel_and_a_re_audit(audited, tmp_path: Path):
    corpus, config, _, before = audited
    changed = 0  # "the breast cancer ..." -> cancer untagged
    after = audit(relabel(corpus, changed, 2, "O"), config, k=3, mode="fast", cache_dir=tmp_path)
    content = lambda i: (i.index, i.start, i.end, i.type, i.given)  # noqa: E731
    old = {content(i): i for i in before.issues if i.index != changed}
    new = {content(i): i for i in after.issues if i.index != changed}
    shared = old.keys() & new.keys()
    assert len(shared) >= 0.8 * len(old) and len(shared) > 5
    assert all(old[key].id == new[key].id for key in shared)
    # Ranks moved (so rank-based ids would have changed), ids did not.
    rank_before = {i.id: n for n, i in enumerate(before.issues)}
    rank_after = {i.id: n for n, i in enumerate(after.issues)}
    assert any(rank_before[old[key].id] != rank_after[new[key].id] for key in shared)
    assert len({i.id for i in after.issues}) == len(after.issues)


def test_issue_ids_do_not_depend_on_the_sentence_position(audited):
    corpus, _, _, result = audited
    extra = Document("new", (Sentence(("the", "colon", "cancer"), ("O", "B-Disease", "I-Disease")),))
    shifted = Corpus((extra,) + corpus.documents)
    probs = [np.full((3, len(result.tags)), 1 / len(result.tags), dtype=np.float32)] + list(result.pred_probs)
    again = score(shifted, probs, result.tags)
    ids = {(i.index + 1, i.start, i.end, i.type, i.given): i.id for i in result.issues if i.type != "inconsistent"}
    moved = {(i.index, i.start, i.end, i.type, i.given): i.id for i in again.issues}
    shared = ids.keys() & moved.keys()
    assert len(shared) > 5 and all(ids[k] == moved[k] for k in shared)
    keys = sentence_keys(shifted)
    assert keys[1:] == sentence_keys(corpus) and len(set(keys)) == len(keys)


def test_separate_fold_runs_meet_at_the_cache(tiny_model: Path, tmp_path: Path, monkeypatch):
    import nerqa.models.training as training

    config = fast_config(tiny_model, epochs=1)
    corpus = with_doc_ids(TOY)
    partial = cross_validate(corpus, config, k=3, mode="full", folds=[1], cache_dir=tmp_path)
    assert partial.missing_folds == [0, 2] and not partial.complete
    assert all((p is None) == (f != 1) for p, f in zip(partial.pred_probs, partial.folds))
    for fold in (0, 2):  # as other processes would
        cross_validate(corpus, config, k=3, mode="full", folds=[fold], cache_dir=tmp_path)
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("every fold should come from the cache"))
    whole = cross_validate(corpus, config, k=3, mode="full", cache_dir=tmp_path)
    assert whole.complete and whole.cached_folds == [0, 1, 2]
    np.testing.assert_array_equal(
        np.concatenate([p for p, f in zip(whole.pred_probs, whole.folds) if f == 1]),
        np.concatenate([p for p in partial.pred_probs if p is not None]),
    )


def _nerqa(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nerqa_cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )
    return done, time.perf_counter() - started


@pytest.mark.parametrize(
    "option, message",
    [
        (("--level", "tokens"), "level must be one of types, iob, not 'tokens'"),
        (("--max-length", "4"), "max_length must be at least 8, not 4"),
        (("--mode", "slow"), "mode must be one of both, full, fast, top, top+fast, not 'slow'"),
        (("-k", "1"), "folds (-k) must be at least 2, not 1"),
    ],
)
def test_bad_audit_options_fail_at_once_before_any_model_loads(tmp_path: Path, option, message):
    done, seconds = _nerqa("audit", str(DEMO / "abstracts.txt"), "--out", str(tmp_path / "out"), *option, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"Error: {message}"]
    assert seconds < 2.0, seconds
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_fails_before_training(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["audit", str(DEMO / "abstracts.txt"), "--out", str(blocker / "audit")])
    assert (
        result.exit_code == 1
        and "cannot write here" in result.stderr
        and "Traceback" not in result.output + result.stderr
    )


def test_audit_without_a_terminal_logs_plain_lines_and_trained_ignores_folds(tiny_model: Path, tmp_path: Path):
    write_corpus(with_doc_ids(TOY), tmp_path / "toy.jsonl")
    result = runner.invoke(
        app,
        [
            "audit",
            str(tmp_path / "toy.jsonl"),
            "--model",
            str(tiny_model),
            "-k",
            "3",
            "--epochs",
            "1",
            "--mode",
            "full",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    fold_lines = [line for line in result.stderr.splitlines() if " folds " in line]
    assert [line.split(" folds ")[1].split()[0] for line in fold_lines] == ["1/3", "2/3", "3/3"]
    assert "ETA" in fold_lines[0] and "loss" in next(
        line for line in result.stderr.splitlines() if " epochs 1/1" in line
    )
    log = (tmp_path / "out" / "audit.log").read_text()
    assert log.count(" folds ") == 3
    # A trained model replaces cross-validation: -k and --mode are said to be unused and not recorded.
    from nerqa.models.training import save_training, train

    save_training(train(TOY, fast_config(tiny_model, epochs=1)), tmp_path / "model", fast_config(tiny_model), {})
    result = runner.invoke(
        app,
        [
            "audit",
            str(tmp_path / "toy.jsonl"),
            "--trained",
            str(tmp_path / "model"),
            "-k",
            "4",
            "--mode",
            "fast",
            "--out",
            str(tmp_path / "out2"),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "-k" in result.stderr and "--mode" in result.stderr and "not used with --trained" in result.stderr
    settings = json.loads((tmp_path / "out2" / "summary.json").read_text())["settings"]
    assert settings == {"mode": "model", "level": "types"}


def test_the_issue_file_round_trips_every_field(audited):
    corpus, _, folder, result = audited
    first = json.loads((folder / "issues.jsonl").read_text().splitlines()[0])
    assert set(first) == {f.name for f in dataclasses.fields(result.issues[0])}
    assert first["id"] == result.issues[0].id and first["id"].split("-")[0] in ("wt", "ms", "gs", "ss", "in", "sp")
