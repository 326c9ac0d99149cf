"""`nerqa select` and the review queue by uncertainty through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from samples import TOY, VARIED
from typer.testing import CliRunner

from nerqa.active.strategies import DEFAULT_STRATEGY, sentence_scores
from nerqa.data.corpus import Corpus, text_key
from nerqa.data.formats import read_corpus, write_corpus
from nerqa_cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def pool_file(folder: Path) -> Path:
    """12 distinct sentences of VARIED, then 3 of them again."""
    lines = [" ".join(s.tokens) for s in VARIED.sentences[:12]]
    path = folder / "pool.txt"
    path.write_text("\n".join(lines + lines[:3]) + "\n", encoding="utf-8")
    return path


def one_error_line(result, text: str, out: Path) -> None:
    assert result.exit_code == 1, result.output
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("Note:", "0", "1", "2"))
    ]
    assert len(lines) == 1 and lines[0].startswith("Error:") and text in lines[0], result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()  # nothing written, not even the folder


def test_select_writes_a_pre_annotated_batch_with_scores_and_reasons(tiny_classifier: Path, tmp_path: Path):
    pool = pool_file(tmp_path)
    result = invoke("select", pool, "--trained", tiny_classifier, "--budget", 3, "--out", tmp_path / "batch")
    assert result.exit_code == 0, result.output + result.stderr
    folder = tmp_path / "batch"
    assert sorted(p.name for p in folder.iterdir()) == [
        ".nerqa-output.json",
        "batch.jsonl",
        "select.log",
        "selection.jsonl",
        "summary.json",
    ]
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
        "select", pool, "--trained", tiny_classifier, "--budget", 4, "--tool", tool, "--out", tmp_path / "batch"
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
        "--model",
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


def test_bad_input_is_one_line_and_writes_nothing(tiny_model: Path, tiny_classifier: Path, tmp_path: Path):
    out = tmp_path / "batch"
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    one_error_line(
        invoke("select", tmp_path / "empty.txt", "--trained", tiny_classifier, "--budget", 2, "--out", out),
        "empty.txt: the file is empty",
        out,
    )
    pool = pool_file(tmp_path)
    one_error_line(
        invoke("select", pool, "--trained", tiny_classifier, "--budget", 13, "--out", out),
        "the pool holds 12 new sentences (15 read, 0 already labeled, 3 repeats): fewer than the budget of 13",
        out,
    )
    one_error_line(
        invoke("select", pool, "--trained", tiny_model, "--budget", 2, "--out", out), "are not IOB tags", out
    )
    one_error_line(
        invoke("select", pool, "--trained", tiny_classifier, "--budget", 0, "--out", out),
        "--budget must be at least 1",
        out,
    )
    one_error_line(
        invoke("select", pool, "--trained", tiny_classifier, "--budget", 2, "--strategy", "bald", "--out", out),
        "--strategy must be one of",
        out,
    )
    one_error_line(
        invoke("select", pool, "--trained", tiny_classifier, "--budget", 2, "--to", "excel", "--out", out),
        "--to must be one of",
        out,
    )
    one_error_line(
        invoke("select", tmp_path / "missing.txt", "--trained", tiny_classifier, "--budget", 2, "--out", out),
        "missing.txt: no such file",
        out,
    )


def test_merge_leaves_out_sentences_already_present():
    base = Corpus(TOY.documents[:2])
    other = Corpus(TOY.documents[1:4])
    merged, left_out = base.merged(other)
    assert left_out == sum(
        1 for s in other.sentences if text_key(s.tokens) in {text_key(t.tokens) for t in base.sentences}
    )
    assert len(merged) == len(base) + len(other) - left_out
    assert merged.merged(other)[1] == len(other)


def test_relabel_exports_tasks_in_uncertainty_order(tmp_path: Path):
    from review_helpers import review_audit

    from nerqa.auditing import write_outputs

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
    from nerqa.auditing.folder import load_audit

    result = load_audit(tmp_path / "audit", read_corpus(tmp_path / "corpus.jsonl"))
    doubt = sentence_scores(result.pred_probs, DEFAULT_STRATEGY)
    score_order, doubt_order = read("score.jsonl"), read("doubt.jsonl")
    assert sorted(t["issue_id"] for t in score_order) == sorted(t["issue_id"] for t in doubt_order)
    assert [doubt[t["index"]] for t in doubt_order] == sorted((doubt[t["index"]] for t in doubt_order), reverse=True)
    assert [t["score"] for t in score_order] == sorted(t["score"] for t in score_order)
    assert doubt_order[0]["index"] == 3 and score_order[0]["index"] != 3
    bad = invoke("relabel", tmp_path / "corpus.jsonl", tmp_path / "audit", "--order", "newest")
    assert bad.exit_code == 1 and "--order must be one of reach, score, uncertainty" in bad.stderr


def test_an_unwritable_output_folder_fails_before_any_work(
    tiny_classifier: Path, tmp_path: Path, read_only_folder: Path
):
    out = read_only_folder / "batch"
    result = invoke("select", pool_file(tmp_path), "--trained", tiny_classifier, "--budget", 2, "--out", out)
    one_error_line(result, "cannot write here", out)
