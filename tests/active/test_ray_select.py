"""`nerqa select --workers`: the pool scored by Ray actors, each holding the model, with the
candidates streamed back in pool order and only a few chunks in flight."""

from __future__ import annotations

import json
from pathlib import Path

from samples import VARIED
from typer.testing import CliRunner

from nerqa.active.predictors import ClassifierPredictor
from nerqa.active.select import PoolStream, select
from nerqa_cli.main import app


def test_ray_actors_choose_what_one_process_chooses(tiny_classifier: Path, tmp_path: Path):
    from nerqa.active.ray_pool import RayPredictor
    from nerqa.models.classifier import load_classifier
    from nerqa.models.ray_cluster import connect

    predictor = ClassifierPredictor(load_classifier(tiny_classifier))
    documents = list(VARIED.documents) * 3  # repeats are left out on the way
    here = select(documents, predictor, budget=5, diversity="off", stream=PoolStream(chunk_sentences=2))
    read, lag = [0], []

    def pool():
        for document in documents:
            read[0] += len(document.sentences)
            yield document

    def watch(task, done, total, info):
        lag.append(read[0] - info["sentences"])

    with connect(2) as cluster:
        spread = RayPredictor(cluster, predictor)
        assert len(spread.actors) == 2
        on_ray = select(pool(), spread, budget=5, diversity="off", stream=PoolStream(chunk_sentences=2, progress=watch))
    assert [c.sentence.tokens for c in on_ray.choices] == [c.sentence.tokens for c in here.choices]
    for a, b in zip(on_ray.choices, here.choices):
        assert abs(a.score - b.score) < 1e-4 and a.tags == b.tags
    assert on_ray.counts == here.counts
    # Bounded: the driver is never more than 2 chunks per actor (+ the one being cut) ahead of
    # the scores, however long the pool (repeats read but not scored count too).
    repeats = here.counts["duplicates"]
    assert max(lag) <= (2 * 2 + 1) * 2 + repeats


def test_select_command_on_two_workers(tiny_classifier: Path, tmp_path: Path):
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(" ".join(s.tokens) for s in VARIED.sentences[:12]) + "\n", encoding="utf-8")
    outputs = []
    for name, extra in (("here", []), ("ray", ["--workers", "2"])):
        result = CliRunner().invoke(
            app,
            ["select", str(pool), "--trained", str(tiny_classifier), "--budget", "4", "--out", str(tmp_path / name)]
            + extra,
        )
        assert result.exit_code == 0, result.output + result.stderr
        outputs.append(
            [json.loads(line)["text"] for line in (tmp_path / name / "selection.jsonl").read_text().splitlines()]
        )
    assert "Ray: local" in result.stderr
    assert outputs[0] == outputs[1]
