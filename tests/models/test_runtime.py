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
