"""Folds on Ray (`nerqa audit --workers`), a worker that dies, and `--fold` jobs of a batch array.

Ray runs for real here: a local Ray with 2 CPUs, as `nerqa audit --workers 2` starts one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import ray
from samples import TOY, fast_config, with_doc_ids
from typer.testing import CliRunner

from nerqa.auditing.crossval import FoldRun, FullRunner, cross_validate_once, run_folds
from nerqa.config import AuditSettings
from nerqa.data.formats import write_corpus
from nerqa.data.probs import load_probs
from nerqa_cli.main import app


def _audit(folder: Path, corpus: Path, model: Path, *extra: str):
    result = CliRunner().invoke(
        app,
        ["audit", str(corpus), "--model", str(model), "-k", "3", "--epochs", "2", "--out", str(folder), "--show", "0"]
        + list(extra),
    )
    assert result.exit_code == 0, result.output + result.stderr
    return result


def _outputs(folder: Path):
    probs, tags = load_probs(folder / "pred_probs.npz")
    issues = [json.loads(line) for line in (folder / "issues.jsonl").read_text().splitlines()]
    return probs, tags, issues


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("toy") / "toy.tsv"
    write_corpus(with_doc_ids(TOY), path)
    return path


def test_two_ray_workers_audit_as_one_does(tiny_model: Path, toy_file: Path, tmp_path: Path):
    # Both runners of the default mode: the full runner's folds and dynamics, and the fast
    # runner's frozen pass, run once in a worker and shared by its folds.
    two = _audit(tmp_path / "two", toy_file, tiny_model, "--workers", "2")
    assert "Ray: local, " in two.stderr and "; 2 at once" in two.stderr
    log = (tmp_path / "two" / "audit.log").read_text()
    assert log.count(" folds ") == 6  # one line per fold and runner, written by the driver
    _audit(tmp_path / "one", toy_file, tiny_model, "--workers", "1")
    assert not ray.is_initialized()  # the local Ray nerqa started is shut down
    probs2, tags2, issues2 = _outputs(tmp_path / "two")
    probs1, tags1, issues1 = _outputs(tmp_path / "one")
    assert tags1 == tags2
    summary1 = json.loads((tmp_path / "one" / "summary.json").read_text())
    summary2 = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary1["timings"]["fold_seconds"] and len(summary2["timings"]["fold_seconds"]) == 3
    for a, b in zip(probs1, probs2):
        np.testing.assert_allclose(a, b, atol=0.02)  # same folds, seeds and data; threads differ
    assert [(i["index"], i["start"], i["end"], i["type"]) for i in issues1] == [
        (i["index"], i["start"], i["end"], i["type"]) for i in issues2
    ]
    # Every fold came back through the object store and was cached by the driver: a rerun trains nothing.
    again = _audit(tmp_path / "two", toy_file, tiny_model)
    assert "Ray" not in again.stderr
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["timings"]["fold_seconds"] == [0, 0, 0]


class DiesOnce(FullRunner):
    """A full runner whose first attempt at fold 1 kills its own worker process outright, as
    the OOM killer or a lost node would: no exception, no cleanup."""

    def __init__(self, config, marker: Path, *, always: bool = False) -> None:
        super().__init__(config)
        self.marker = marker
        self.always = always

    def run(self, corpus, tags, train_idx, test_idx, progress):
        if 0 not in test_idx and (self.always or not self.marker.exists()):
            self.marker.write_text(str(os.getpid()))
            os._exit(1)
        return super().run(corpus, tags, train_idx, test_idx, progress)


@pytest.fixture
def local_ray(monkeypatch):
    from nerqa.models.ray_cluster import connect

    # The workers unpickle this module's runner, which imports the tests' shared helpers.
    tests = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tests), os.environ.get("PYTHONPATH")])))
    with connect(2) as cluster:
        yield cluster


def test_a_fold_whose_worker_dies_runs_again(tiny_model: Path, tmp_path: Path, local_ray):
    from nerqa.auditing.ray_folds import RayFolds

    config = fast_config(tiny_model, epochs=1)
    marker = tmp_path / "died"
    folds = []
    result = run_folds(
        TOY,
        config,
        DiesOnce(config, marker),
        k=3,
        run=FoldRun(
            cache_dir=tmp_path / "cache",
            executor=RayFolds(local_ray),
            progress=lambda task, done, total, info: folds.append(info["fold"]) if task == "fold" else None,
        ),
    )
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker died, not the driver
    assert sorted(folds) == [0, 1, 2] and all(p is not None for p in result.pred_probs)
    plain = run_folds(TOY, config, FullRunner(config), k=3)
    for a, b in zip(plain.pred_probs, result.pred_probs):
        np.testing.assert_allclose(a, b, atol=0.02)


def test_a_fold_that_keeps_failing_is_one_error(tiny_model: Path, tmp_path: Path, local_ray):
    from nerqa.auditing.ray_folds import RayFolds
    from nerqa.errors import NerqaError

    # An error in the fold is the user's to see, as when it runs here: not retried.
    (tmp_path / "not-a-model").mkdir()
    config = fast_config(tmp_path / "not-a-model", epochs=1)
    with pytest.raises(NerqaError, match="not-a-model"):
        cross_validate_once(TOY, AuditSettings(k=3, mode="full", training=config), executor=RayFolds(local_ray))
    # A worker that dies on every try: after the retries, one error naming the fold.
    config = fast_config(tiny_model, epochs=1)
    with pytest.raises(NerqaError, match=r"fold \d failed on Ray after 1 retries"):
        run_folds(
            TOY,
            config,
            DiesOnce(config, tmp_path / "m", always=True),
            k=3,
            run=FoldRun(executor=RayFolds(local_ray, retries=1)),
        )


def test_fold_jobs_then_a_final_run_equal_one_run(tiny_model: Path, toy_file: Path, tmp_path: Path):
    jobs = tmp_path / "jobs"
    for fold in range(3):
        result = _audit(jobs, toy_file, tiny_model, "--fold", str(fold))
        assert f"Cached fold {fold} of 3" in result.output
        assert not (jobs / "issues.jsonl").exists()  # a job writes its fold, not the audit
    final = _audit(jobs, toy_file, tiny_model)
    assert "folds 6/6 (fast, cached)" in (jobs / "audit.log").read_text()
    assert json.loads((jobs / "summary.json").read_text())["timings"]["fold_seconds"] == [0, 0, 0]
    _audit(tmp_path / "whole", toy_file, tiny_model)
    probs_jobs, _, issues_jobs = _outputs(jobs)
    probs_whole, _, issues_whole = _outputs(tmp_path / "whole")
    for a, b in zip(probs_jobs, probs_whole):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert [i["id"] for i in issues_jobs] == [i["id"] for i in issues_whole]
    assert final.exit_code == 0


def test_fold_outside_the_folds_is_one_error_line(toy_file: Path, tiny_model: Path, tmp_path: Path):
    result = CliRunner().invoke(
        app, ["audit", str(toy_file), "--model", str(tiny_model), "-k", "3", "--fold", "3", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and "folds [3] are outside 0..2" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_audit_joins_a_running_ray_cluster(tiny_model: Path, toy_file: Path, tmp_path: Path):
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time

    # A real cluster head, started as the docs say (`ray start --head`), in processes of its own
    # (--block: they end with it, and no other Ray on this machine is touched); the audit joins it.
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    head = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", "--port", "6391", "--num-cpus", "2", "--include-dashboard", "false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(120):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", 6391)) == 0:
                    break
            time.sleep(0.5)
        time.sleep(3)  # the head's other services come up after its port
        # A user's shell: `ray start` clusters use token authentication (the token is in ~/.ray).
        result = subprocess.run(
            [sys.executable, "-m", "nerqa_cli.main", "audit", str(toy_file), "--model", str(tiny_model), "-k", "3"]
            + ["--epochs", "1", "--mode", "full", "--out", str(tmp_path / "out"), "--ray-address", "127.0.0.1:6391"],
            capture_output=True,
            text=True,
            env={**os.environ, "RAY_AUTH_MODE": "token"},
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Ray: 127.0.0.1:6391, 2 CPUs, 0 GPUs; 2 at once, 1 CPU each." in result.stderr
        assert (tmp_path / "out" / "issues.jsonl").read_text().strip()
        assert head.poll() is None  # the audit left the cluster running: it is not the audit's to stop
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)
