"""`nerqa train` under `torchrun --nproc-per-node 2` (DDP on gloo, CPU): the batches are shared
among the processes, dev evaluation and saving happen once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from samples import TOY, with_doc_ids

from nerqa.data.formats import write_corpus
from nerqa.models.trainer_setup import BucketBatchSampler

# Runs inside each torchrun process: the real `nerqa train` command, with the batch sampler and
# the model writer watched, and what each rank saw written to rank<R>.json.
RANK_SCRIPT = """
import json, os, sys
from nerqa.models import trainer_setup as trainer, training

epochs, saves = [], []
iterate = trainer.BucketBatchSampler.__iter__

def watched(self):
    epoch = {"windows": len(self.lengths), "batches": []}
    epochs.append(epoch)
    for batch in iterate(self):
        epoch["batches"].append(list(batch))
        yield batch

trainer.BucketBatchSampler.__iter__ = watched
save = training.save_training
training.save_training = lambda *a, **k: (saves.append(1), save(*a, **k))[1]
from nerqa_cli.main import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    with open(os.path.join(os.environ["REPORT"], f"rank{os.environ['RANK']}.json"), "w") as f:
        json.dump({"epochs": epochs, "saves": len(saves)}, f)
"""


def test_sampler_shares_each_batch_among_processes():
    lengths = [5, 9, 3, 12, 7, 7, 2, 30, 11, 4, 6]
    for world in (1, 2, 3):
        shares = [list(BucketBatchSampler(lengths, 4, seed=7, rank=r, world=world)) for r in range(world)]
        assert len({len(s) for s in shares}) == 1  # every process runs as many steps
        assert len(shares[0]) == len(BucketBatchSampler(lengths, 4, seed=7, rank=0, world=world))
        seen = sorted(i for share in shares for batch in share for i in batch)
        assert seen == list(range(len(lengths)))  # each window once per epoch, by one process
        alone = list(BucketBatchSampler(lengths, 4, seed=7))
        if world == 2:  # a step's windows across the processes are one process's batch
            assert [sorted(a + b) for a, b in zip(*shares)] == [sorted(batch) for batch in alone]


def test_torchrun_two_processes_train_and_save_once(tiny_model: Path, tmp_path: Path):
    corpus = tmp_path / "toy.tsv"
    write_corpus(with_doc_ids(TOY), corpus)
    (tmp_path / "rank.py").write_text(RANK_SCRIPT)
    out = tmp_path / "model"
    # Sentences with over 4 sub-words make 2+ windows: a batch of 6 windows is shared 3 + 3.
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29581"]
        + [str(tmp_path / "rank.py"), "train", str(corpus), "--dev", str(corpus), "--model", str(tiny_model)]
        + ["--out", str(out), "--epochs", "2", "--batch-size", "6", "--lr", "1e-2", "--patience", "5"],
        capture_output=True,
        text=True,
        env={**os.environ, "REPORT": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["saves"] for r in ranks] == [1, 0]  # rank 0 writes the model folder, once
    assert len(ranks[0]["epochs"]) == len(ranks[1]["epochs"]) == 2
    for first, second in zip(ranks[0]["epochs"], ranks[1]["epochs"]):
        assert len(first["batches"]) == len(second["batches"])  # equal steps: no rank waits forever
        windows = [i for epoch in (first, second) for batch in epoch["batches"] for i in batch]
        assert sorted(windows) == list(range(first["windows"]))  # each window seen by exactly one rank
    assert done.stdout.count("Training on") == 1 and "2 data-parallel processes" in done.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["history"]] == [1, 2] and "dev_f1" in metrics["history"][0]
    log = (out / "train.log").read_text()
    assert log.count("epochs 2/2") == 1  # one process logged
    from transformers import pipeline

    tagger = pipeline("token-classification", model=str(out))  # a standard model folder
    assert isinstance(tagger("breast cancer risk"), list)


@pytest.mark.parametrize("world", [3])
def test_too_few_windows_for_the_processes_is_a_clear_error(world):
    from nerqa.errors import NerqaError

    with pytest.raises(NerqaError, match="2 training windows cannot be shared by 3 processes"):
        BucketBatchSampler([4, 5], 8, seed=1, rank=0, world=world)


def test_processes_started_for_ray_write_stderr_to_its_log_not_the_terminal(tmp_path: Path):
    """What Ray's processes print as they start goes to the log; this process's own stderr is
    back where it was afterwards."""
    from nerqa.models.ray_cluster import stderr_to_file

    log = tmp_path / "ray.log"
    before = os.readlink("/proc/self/fd/2")
    with stderr_to_file(log):
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('*** SIGTERM received\\n')"], check=True)
    assert os.readlink("/proc/self/fd/2") == before
    assert "*** SIGTERM received" in log.read_text()


def test_an_audit_on_ray_prints_no_worker_stack_traces(tiny_model: Path, tmp_path: Path):
    """`nerqa audit --workers 2`, as a user runs it: its stderr holds nerqa's lines and no
    "*** SIGTERM received" dump from a Ray worker stopped along the way or at shutdown."""
    from samples import TOY

    from nerqa.data.formats import write_corpus

    write_corpus(TOY, tmp_path / "toy.tsv")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nerqa_cli.main",
            "audit",
            str(tmp_path / "toy.tsv"),
            "--model",
            str(tiny_model),
            "-k",
            "2",
            "--epochs",
            "1",
            "--workers",
            "2",
            "--out",
            str(tmp_path / "audit"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Ray: local" in done.stderr and "Wrote" in done.stdout
    assert "folds 4/4" in done.stderr  # the progress lines stay on the terminal
    assert "SIGTERM" not in done.stderr + done.stdout and "PC: @" not in done.stderr
