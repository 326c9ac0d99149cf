"""The active-learning loop end to end."""

from __future__ import annotations

import json
from pathlib import Path

from samples import VARIED
from typer.testing import CliRunner

from nerqa.data.corpus import Corpus, Sentence
from nerqa.data.formats import read_corpus, write_corpus
from nerqa_cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def annotate_in_label_studio(tasks: list[dict], gold: dict[str, Sentence]) -> list[dict]:
    """What Label Studio's JSON export holds once a person has annotated every task: the
    task, its predictions, and an annotation whose result has the gold spans."""
    from nerqa.interop.task_formats import labelstudio_result

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
