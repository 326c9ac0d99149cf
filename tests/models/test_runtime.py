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
        # A core must be free to see it take, and this run must not be niced itself: its child
        # would be niced too, and /proc/stat counts it as niced work.
        if base < len(os.sched_getaffinity(0)) - 1 and os.nice(0) == 0:
            assert busy_cores(1.0) > base + 0.6  # a job at normal priority takes its core
    finally:
        other.kill()
        other.wait()


def test_threads_follow_the_free_cores_between_folds_and_epochs(monkeypatch):
    import os

    import torch

    from nerqa.models import runtime

    before = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0))
    hz = os.sysconf("SC_CLK_TCK")
    for name in ("NERQA_THREADS", "OMP_NUM_THREADS", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)

    def sample(seconds: float, free_cores: float, own_cores: float):
        # /proc/stat ticks and own CPU seconds after `seconds` of wall time at these loads.
        ticks = int(seconds * hz * cores)
        return ticks, int(seconds * hz * free_cores), seconds * own_cores, seconds

    # An epoch of 10 s: this process used every core but one, other work the last one.
    samples = iter([sample(0, 0, 0), sample(0.3, cores, 0), sample(10, 0, cores - 1)])
    monkeypatch.setattr(runtime, "_cpu_sample", lambda: next(samples))
    try:
        assert runtime.set_threads() == cores  # idle at the start
        assert runtime.refresh_threads() == max(1, cores - 1)  # other work arrived: one core less
        # The next 10 s: the other work ended, and the cores come back.
        samples = iter([sample(20, 1, cores - 1)])
        assert runtime.refresh_threads() == cores
        samples = iter([sample(20.2, 0, 0)])  # read again at once: too short to measure, so measured anew
        monkeypatch.setattr(runtime, "busy_cores", lambda: 0.0)
        assert runtime.refresh_threads() == cores
        monkeypatch.setenv("NERQA_THREADS", "1")
        assert runtime.set_threads() == 1
        samples = iter([sample(40, 0, 0)])
        assert runtime.refresh_threads() == 1  # a count the user fixed stays
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
