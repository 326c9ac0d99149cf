"""`nerqa serve`, the Label Studio ML backend: the annotation store, labeling configs, the
predictions' score against `select`, retraining and versions through the SDK's web app, a
restart, and the command itself. bench/labelstudio_backend.py (in run_smoke.sh) drives it
from a real Label Studio."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from samples import VARIED
from typer.testing import CliRunner

from nerqa.errors import ConfigError
from nerqa.serve.labeling import check_labels, parse_labeling_config
from nerqa.serve.store import AnnotationStore
from nerqa_cli.main import app

CONFIG = (
    '<View><Labels name="label" toName="text"><Label value="Disease"/></Labels><Text name="text" value="$text"/></View>'
)
TEXTS = [" ".join(s.tokens) for s in VARIED.sentences]


def spans_of(sentence) -> list[tuple[int, int, str]]:
    from nerqa.interop.task_formats import char_spans

    return [tuple(s) for s in char_spans(sentence.tokens, sentence.spans)]


def created(task_id: int, annotation_id: int, *, spans=None, project: int = 1) -> dict:
    """The webhook Label Studio sends when a person submits an annotation of task `task_id`
    (one of VARIED's sentences), with VARIED's own spans unless told otherwise."""
    sentence = VARIED.sentences[task_id]
    text = " ".join(sentence.tokens)
    spans = spans_of(sentence) if spans is None else spans
    return {
        "action": "ANNOTATION_CREATED",
        "project": {"id": project, "label_config": CONFIG},
        "task": {"id": task_id, "data": {"text": text}},
        "annotation": {
            "id": annotation_id,
            "result": [
                {
                    "from_name": "label",
                    "to_name": "text",
                    "type": "labels",
                    "value": {"start": s, "end": e, "labels": [t]},
                }
                for s, e, t in spans
            ],
        },
    }


# -- the store ---------------------------------------------------------------------------------

events = st.lists(
    st.tuples(st.sampled_from(["put", "delete"]), st.integers(0, 4), st.integers(0, 6)), min_size=1, max_size=25
)


@settings(max_examples=60, deadline=None)
@given(events)
def test_the_store_keeps_each_tasks_latest_annotation_as_of_any_event(tmp_path_factory, history):
    store = AnnotationStore(tmp_path_factory.mktemp("store") / "annotations.sqlite")
    expected: dict[int, tuple[int, str]] = {}
    snapshots = []
    for kind, task, k in history:
        annotation = task * 10 + k  # Label Studio's annotation ids are unique across tasks
        if kind == "put":
            seq = store.put("7", task, annotation, f"text {annotation}", [(0, 4, "Disease")])
            expected[task] = (annotation, f"text {annotation}")
        else:
            seq = store.delete("7", annotation)
            # Only a task's current annotation can be deleted; any other id changes nothing.
            current = expected.get(task, (None,))[0] == annotation
            assert (seq is None) == (not current)
            if current:
                del expected[task]
        snapshots.append((store.last_seq(), dict(expected)))
    for through, state in snapshots:  # any past state comes back exactly, in task order
        got = store.annotations(through=through)
        assert [(a.task_id, (a.annotation_id, a.text)) for a in got] == sorted(state.items())
    reopened = AnnotationStore(store.path)
    assert reopened.annotations() == store.annotations()
    store.close()
    reopened.close()


# -- labeling configs --------------------------------------------------------------------------


def test_a_labeling_config_is_read_and_one_whose_labels_the_model_lacks_is_refused():
    config = parse_labeling_config(CONFIG.replace('name="text" value="$text"', 'name="text" value="$abstract"'))
    assert (config.from_name, config.to_name, config.field, config.labels) == (
        "label",
        "text",
        "abstract",
        ("Disease",),
    )
    check_labels(config, ("Disease",))
    chemical = parse_labeling_config(CONFIG.replace("Disease", "Chemical"))
    with pytest.raises(ConfigError, match=r"label Chemical is not a type this model predicts \(Disease\)"):
        check_labels(chemical, ("Disease",))
    with pytest.raises(ConfigError, match="no <Labels"):
        parse_labeling_config('<View><Choices name="c" toName="text"/><Text name="text" value="$text"/></View>')
    with pytest.raises(ConfigError, match="not valid XML"):
        parse_labeling_config("<View>")


# -- the backend -------------------------------------------------------------------------------


@pytest.fixture
def backend(tiny_classifier: Path, tmp_path: Path):
    from nerqa.serve.backend import Backend, ServeSettings

    lines: list[str] = []
    made = Backend(tiny_classifier, tmp_path / "serve", ServeSettings(every=4), log=lines.append)
    made.lines = lines
    yield made
    made.wait()


def test_sorting_by_prediction_score_gives_selects_order(backend, tiny_classifier: Path):
    from nerqa.active.predictors import ClassifierPredictor
    from nerqa.active.select import select
    from nerqa.models.classifier import load_classifier

    tasks = [{"id": i, "data": {"text": text}} for i, text in enumerate(TEXTS)]
    predictions = backend.predict(tasks, CONFIG)
    assert {p["model_version"] for p in predictions} == {f"{tiny_classifier.name}-0"}
    assert all(0 < p["score"] <= 1 for p in predictions)
    ascending = [i for _, i in sorted((p["score"], i) for i, p in enumerate(predictions))]
    chosen = select(
        VARIED.documents, ClassifierPredictor(load_classifier(tiny_classifier)), budget=len(TEXTS), diversity="off"
    )
    assert ascending == [c.sentence.position for c in chosen.choices]
    # Regions sit on the words of the text they name.
    for task, prediction in zip(tasks, predictions):
        for region in prediction["result"]:
            value = region["value"]
            assert task["data"]["text"][value["start"] : value["end"]] == value["text"]
            assert value["labels"] == ["Disease"] and region["from_name"] == "label"


def test_retraining_after_every_n_annotations_changes_the_version_and_survives_a_restart(backend, tiny_classifier):
    from nerqa.serve.app import make_app
    from nerqa.serve.backend import Backend, ServeSettings

    client = make_app(backend).test_client()
    assert client.post("/setup", json={"project": "1.17", "schema": CONFIG}).json == {
        "model_version": f"{tiny_classifier.name}-0"
    }
    probe = {"tasks": [{"id": 99, "data": {"text": TEXTS[0]}}], "project": "1.17", "label_config": CONFIG}
    for n in range(3):
        assert client.post("/webhook", json=created(n, 100 + n)).json == {"stored": 1}
    assert backend.store.models()[-1].version == f"{tiny_classifier.name}-0"  # 3 < 4: no retraining yet
    assert client.post("/webhook", json=created(3, 103)).json == {"stored": 1, "training": "started"}
    backend.wait()
    record = backend.store.models()[-1]
    assert (record.version, record.kind, record.status, record.annotations) == (
        f"{tiny_classifier.name}-1",
        "fast",
        "ok",
        4,
    )
    assert record.through_seq == backend.store.last_seq()
    new = client.post("/predict", json=probe).json
    assert new["results"][0]["model_version"] == f"{tiny_classifier.name}-1"
    assert any(line.startswith(f"Serving {tiny_classifier.name}-1") for line in backend.lines)
    # A deleted annotation is forgotten; an annotation that was never current changes nothing.
    gone = {"action": "ANNOTATIONS_DELETED", "project": {"id": 1}, "annotations": [{"id": 101}, {"id": 555}]}
    assert client.post("/webhook", json=gone).json == {"deleted": 1}
    assert [a.task_id for a in backend.store.annotations()] == [0, 2, 3]
    # Every other action Label Studio sends is ignored; a change without a task is one error.
    assert client.post("/webhook", json={"action": "TASKS_CREATED", "project": 1}).json == {"ignored": "TASKS_CREATED"}
    broken = client.post("/webhook", json={"action": "ANNOTATION_UPDATED", "project": {"id": 1}, "annotation": {}})
    assert broken.json == {"error": "ANNOTATION_UPDATED: the webhook names no task id"}
    # A restart serves the same version with the same annotations, and predicts the same.
    again = Backend(tiny_classifier, backend.folder, ServeSettings(every=4))
    assert again.version == f"{tiny_classifier.name}-1"
    assert again.store.annotations() == backend.store.annotations()
    assert again.predict(probe["tasks"], CONFIG) == backend.predict(probe["tasks"], CONFIG)
    # Retraining is reproducible from the store: the same annotations, the same model.
    assert backend.train_now().version == f"{tiny_classifier.name}-2"
    assert again.train_now().version == f"{tiny_classifier.name}-3"
    import torch

    heads = [torch.load(backend.folder / "versions" / f"{tiny_classifier.name}-{n}" / "head.pt") for n in (2, 3)]
    for key, value in heads[0]["weights"].items():
        assert torch.equal(value, heads[1]["weights"][key])


def test_the_train_button_sends_every_annotated_task_and_retrains(backend, tiny_classifier: Path):
    from nerqa.serve.app import make_app

    client = make_app(backend).test_client()
    backend.receive("ANNOTATION_CREATED", created(0, 100))  # already stored by its webhook
    tasks = []
    for n in range(3):
        hook = created(n, 100 + n)
        tasks.append({**hook["task"], "project": 1, "annotations": [hook["annotation"]]})
    tasks.append({"id": 9, "project": 1, "data": {"text": TEXTS[9]}, "annotations": [{"id": 7, "was_cancelled": True}]})
    # Label Studio without webhook training posts every annotated task to /train.
    answer = client.post("/train", json={"annotations": tasks, "project": "1.17", "label_config": CONFIG})
    assert answer.status_code == 201
    backend.wait()
    assert [a.task_id for a in backend.store.annotations()] == [0, 1, 2]  # the skipped task is not learned
    assert backend.store.last_seq() == 3  # task 0 was stored once, not again
    assert backend.version == f"{tiny_classifier.name}-1"


def test_a_failed_retraining_leaves_the_previous_model_serving(backend, tiny_classifier: Path, monkeypatch):
    def broken(corpus, folder):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(backend, "_train_fast", broken)
    for n in range(4):
        backend.receive("ANNOTATION_CREATED", created(n, n))
    backend.wait()
    record = backend.store.models()[-1]
    assert (record.status, record.error) == ("failed", "out of memory")
    assert backend.version == f"{tiny_classifier.name}-0"
    assert backend.training.last_error == "RuntimeError: out of memory" and not backend.training.running
    assert not list((backend.folder / "versions").glob("*"))  # nothing half-written
    assert any("failed" in line and f"{tiny_classifier.name}-0 keeps serving" in line for line in backend.lines)
    assert backend.predict([{"id": 1, "data": {"text": TEXTS[1]}}])[0]["model_version"] == f"{tiny_classifier.name}-0"


def test_the_setup_call_refuses_a_config_the_model_cannot_label(backend):
    from nerqa.serve.app import make_app

    client = make_app(backend).test_client()
    answer = client.post("/setup", json={"project": "1.1", "schema": CONFIG.replace("Disease", "Gene")})
    assert answer.status_code == 422
    # Label Studio shows only the status line of a failed call: the message is in it.
    assert "label Gene is not a type this model predicts (Disease)" in answer.status
    assert "Gene is not a type" in answer.json["detail"]
    refused = client.post(
        "/predict", json={"tasks": [], "project": "1.1", "label_config": CONFIG.replace("Disease", "X")}
    )
    assert refused.status_code == 422


def test_full_retraining_fine_tunes_the_whole_model(tiny_classifier: Path, tmp_path: Path):
    from nerqa.serve.backend import Backend, ServeSettings

    lines: list[str] = []
    served = Backend(
        tiny_classifier, tmp_path / "serve", ServeSettings(every=0, retrain="full", epochs=1), log=lines.append
    )
    for n in range(3):
        served.receive("ANNOTATION_CREATED", created(n, n))
    assert served.version.endswith("-0")  # every=0: only on request
    assert served.receive("START_TRAINING", {"project": {"id": 1}}) == {"training": "started"}
    served.wait()
    record = served.store.latest_model()
    assert record.kind == "full" and (Path(record.folder) / "config.json").exists()
    assert any(
        line.startswith(f"Retraining {record.version}: epoch 1/1, loss") for line in lines
    )  # progress on the long retraining
    assert served.predict([{"id": 1, "data": {"text": TEXTS[0]}}], CONFIG)[0]["model_version"] == record.version


def test_retraining_learns_from_the_corpus_and_the_annotations(tiny_classifier: Path, tmp_path: Path):
    from samples import TOY

    from nerqa.serve.backend import Backend, ServeSettings

    served = Backend(tiny_classifier, tmp_path / "serve", ServeSettings(every=0), corpus=TOY)
    served.receive("ANNOTATION_CREATED", created(0, 0))
    # A span that cuts a word cannot be trained on: left out, and said.
    served.receive("ANNOTATION_CREATED", created(1, 1, spans=[(1, 3, "Disease")]))
    corpus, skipped = served.training_corpus(served.store.annotations())
    assert len(corpus.sentences) == len(TOY.sentences) + 1 and skipped == 1


# -- the command -------------------------------------------------------------------------------


def test_serve_runs_answers_label_studio_and_stops_on_sigterm(tiny_classifier: Path, tmp_path: Path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"}
    process = subprocess.Popen(
        [sys.executable, "-m", "nerqa_cli.main", "serve", str(tiny_classifier), "--out", str(tmp_path / "s"),
         "--port", "0", "--retrain-every", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        first = process.stdout.readline()
        port = int(re.search(r"at http://127\.0\.0\.1:(\d+)", first).group(1))
        assert "types: Disease" in first and "retraining (fast) every 2 annotations" in first
        url = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            assert response.status == 200
        for n in range(2):
            request = urllib.request.Request(
                f"{url}/webhook", data=__import__("json").dumps(created(n, n)).encode(), method="POST",
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            urllib.request.urlopen(request, timeout=10).read()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{url}/status", timeout=10) as response:
                status = __import__("json").loads(response.read())
            if status["model_version"].endswith("-1"):
                break
            time.sleep(0.2)
        assert status["model_version"] == f"{tiny_classifier.name}-1" and status["annotations"] == 2
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert process.returncode == 0
    assert "Stopped; 2 annotations kept" in rest
    log = (tmp_path / "s" / "serve.log").read_text()
    assert "Retraining" in log and "POST /webhook" in log  # nerqa's lines and the server's requests


def test_serve_errors_are_one_line(tiny_classifier: Path, tmp_path: Path):
    import socket

    runner = CliRunner()
    missing = runner.invoke(app, ["serve", str(tmp_path / "nope"), "--out", str(tmp_path / "s")])
    assert missing.exit_code == 1 and "no such file or folder" in missing.stderr and "Traceback" not in missing.output
    bad = runner.invoke(app, ["serve", str(tiny_classifier), "--retrain", "slow", "--out", str(tmp_path / "s")])
    assert bad.exit_code == 1 and "--retrain must be one of fast, full" in bad.stderr
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        taken = runner.invoke(app, ["serve", str(tiny_classifier), "--port", str(port), "--out", str(tmp_path / "s")])
    assert taken.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr
    assert len(taken.stderr.strip().splitlines()) == 1


def test_a_store_serves_only_the_model_it_was_made_for(tiny_classifier: Path, tmp_path: Path):
    import shutil

    from nerqa.serve.backend import Backend

    Backend(tiny_classifier, tmp_path / "serve")
    other = shutil.copytree(tiny_classifier, tmp_path / "other")
    result = CliRunner().invoke(app, ["serve", str(other), "--out", str(tmp_path / "serve"), "--port", "0"])
    assert result.exit_code == 1 and "belongs to the model" in result.stderr and "Traceback" not in result.output


def _post(url: str, body: dict) -> dict:
    import json

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@pytest.mark.parametrize("seed", range(10))
def test_sigterm_at_any_moment_of_a_retraining_exits_cleanly_and_keeps_everything(
    seed: int, tiny_classifier: Path, tmp_path: Path
):
    """SIGTERM while a full retraining runs (at a moment the seed draws, from before it starts to
    after it ends): exit 0, no staging folder left, every annotation kept, and on a restart the
    newest good model serves."""
    import random

    from nerqa.serve.backend import Backend, ServeSettings
    from nerqa.serve.store import AnnotationStore

    folder = tmp_path / "s"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300"}
    process = subprocess.Popen(
        [sys.executable, "-m", "nerqa_cli.main", "serve", str(tiny_classifier), "--out", str(folder),
         "--port", "0", "--retrain-every", "0", "--retrain", "full", "--epochs", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        first = process.stdout.readline()
        port = int(re.search(r"at http://127\.0\.0\.1:(\d+)", first).group(1))
        url = f"http://127.0.0.1:{port}"
        for n in range(6):
            _post(f"{url}/webhook", created(n, n))
        assert _post(f"{url}/webhook", {"action": "START_TRAINING", "project": {"id": 1}}).get("training") == "started"
        time.sleep(random.Random(seed).uniform(0.0, 4.0))
        process.send_signal(signal.SIGTERM)
        output = first + process.communicate(timeout=120)[0]
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "terminate called" not in output and "Traceback" not in output
    assert "Stopped; 6 annotations kept" in output
    # Each moment ends one of two ways: the retraining abandoned, or finished and saved first.
    finished = re.search(r"Serving \S+-1: trained on 6 annotated tasks", output) is not None
    assert finished != ("abandoned: the server is stopping" in output), output
    versions = folder / "versions"
    left = [p.name for p in versions.iterdir() if p.name.startswith(".")] if versions.exists() else []
    assert left == [], f"staging folders left: {left}"
    assert len(AnnotationStore(folder / "annotations.sqlite").annotations()) == 6
    # A restart serves the newest model that was saved whole: the retrained one if it finished.
    store = AnnotationStore(folder / "annotations.sqlite")
    newest = store.latest_model()
    restarted = Backend(tiny_classifier, folder, ServeSettings(every=0))
    assert restarted.version == newest.version
    if newest.number > 0:
        assert (Path(newest.folder) / "config.json").is_file()
    assert restarted.predict([{"id": 1, "data": {"text": TEXTS[0]}}], CONFIG)[0]["model_version"] == newest.version
