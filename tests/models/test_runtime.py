"""Where models run: torch threads from the free cores (`nerqa.models.runtime`)."""

from __future__ import annotations

import pytest

from nerqa.errors import ModelError


def test_torch_threads_follow_the_free_cores_unless_told(monkeypatch):
    import os

    import torch

    from nerqa.models import runtime as model

    before = torch.get_num_threads()
    try:
        cores = len(os.sched_getaffinity(0))
        monkeypatch.delenv("NERQA_THREADS", raising=False)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert 0 <= model.busy_cores(0.05) <= os.cpu_count() + 0.5  # measured from /proc/stat
        monkeypatch.setattr(model, "busy_cores", lambda: cores - 1 + 0.2)
        assert model.free_cores() == 1  # every core but one busy
        monkeypatch.setattr(model, "busy_cores", lambda: cores * 3.0)
        assert model.free_cores() == 1  # never fewer than one
        monkeypatch.setattr(model, "busy_cores", lambda: 0.0)
        assert model.free_cores() == cores
        assert model.set_threads() == cores and torch.get_num_threads() == cores
        monkeypatch.setenv("NERQA_THREADS", "1")
        assert model.set_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("NERQA_THREADS", "many")
        with pytest.raises(ModelError, match="NERQA_THREADS must be a whole number"):
            model.set_threads()
        monkeypatch.delenv("NERQA_THREADS")
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        assert model.set_threads() == 1  # the user's OpenMP setting is left alone
    finally:
        torch.set_num_threads(before)


def test_busy_cores_leave_out_niced_work_and_this_process():
    import os
    import subprocess
    import sys
    import threading
    import time

    from nerqa.models.runtime import busy_cores

    spin = [sys.executable, "-c", "import time\nend = time.time() + 4\nwhile time.time() < end: pass"]
    base = busy_cores(1.0)  # whatever else runs on this machine now
    niced = subprocess.Popen(["nice", "-n", "19", *spin])
    try:
        time.sleep(0.5)
        assert busy_cores(1.0) < base + 0.5  # a niced job yields to nerqa: its core counts as free
    finally:
        niced.kill()
        niced.wait()
    stop = threading.Event()

    def own_work():
        while not stop.is_set():
            pass

    worker = threading.Thread(target=own_work)
    worker.start()
    try:
        assert busy_cores(1.0) < base + 0.5  # this process's own threads are not "other work"
    finally:
        stop.set()
        worker.join()
    other = subprocess.Popen(spin)
    try:
        time.sleep(0.5)
        if base < len(os.sched_getaffinity(0)) - 1:  # a core is free to see it take
            assert busy_cores(1.0) > base + 0.6  # a job at normal priority takes its core
    finally:
        other.kill()
        other.wait()


def test_threads_follow_the_free_cores_between_folds_and_epochs(monkeypatch):
    import torch

    from nerqa.models import runtime

    before = torch.get_num_threads()
    monkeypatch.delenv("NERQA_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    try:
        free = iter([4, 1, 3])
        monkeypatch.setattr(runtime, "free_cores", lambda: next(free))
        assert runtime.set_threads() == 4
        assert runtime.refresh_threads() == 1  # other work arrived
        assert runtime.refresh_threads() == 3  # some of it left
        monkeypatch.setenv("NERQA_THREADS", "2")
        assert runtime.set_threads() == 2
        assert runtime.refresh_threads() == 2  # a count the user fixed stays
    finally:
        torch.set_num_threads(before)


def test_data_parallel_processes_share_the_free_cores(monkeypatch):
    import os

    from nerqa.models import runtime

    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(runtime, "busy_cores", lambda: 0.0)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(cores))
    assert runtime.free_cores() == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert runtime.free_cores() == cores
