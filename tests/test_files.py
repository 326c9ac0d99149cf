"""The atomic-write helper and the plain progress lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nerqa.errors import NerqaError
from nerqa.files import atomic_write, atomic_write_text, writable_folder
from nerqa_cli.progress import LogLines


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as stream:
            stream.write("half of the new")
            raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_write(target, binary=True) as stream:
        stream.write(b"new\n")
    assert target.read_bytes() == b"new\n"


def test_written_files_get_the_usual_mode_not_mkstemps(tmp_path: Path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    (tmp_path / "a.txt").chmod(0o640)
    atomic_write_text(tmp_path / "a.txt", "y")  # a file that exists keeps its mode
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


def test_unwritable_places_give_one_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NerqaError, match=r"file/sub: cannot write here"):
        writable_folder(blocker / "sub")
    with pytest.raises(NerqaError, match=r"cannot write here"):
        atomic_write_text(blocker / "sub" / "a.txt", "x")


def test_log_lines_report_folds_and_epochs_with_an_eta():
    now = [0.0]
    stream = io.StringIO()
    log = LogLines(stream, clock=lambda: now[0])
    for fold in range(1, 3):
        for step in range(1, 5):
            now[0] += 10
            log("train", step, 4, {})
            log("predict", step, 4, {})
        now[0] += 10
        log("epoch", 1, 1, {"epoch": 1, "loss": 0.25, "dev_f1": 0.5})
        log("fold", fold, 4, {"fold": fold - 1, "mode": "full", "cached": False})
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 1)[1].split(" elapsed")[0] for line in lines] == [
        "predicting 4/4",
        "epochs 1/1 loss 0.2500 dev F1 0.500",
        "folds 1/4 (full)",
        "predicting 4/4",
        "epochs 1/1 loss 0.2500 dev F1 0.500",
        "folds 2/4 (full)",
    ]
    assert lines[2].endswith("elapsed 0m50s ETA 2m30s") and lines[5].endswith("elapsed 1m40s ETA 1m40s")


def test_force_writes_a_folder_over_a_foreign_file_of_its_name_and_keeps_the_rest(tmp_path: Path):
    from nerqa.files import atomic_folder

    target = tmp_path / "out"
    target.mkdir()
    (target / "runs").write_text("a file where nerqa writes a folder")
    (target / "notes.txt").write_text("mine")
    with pytest.raises(NerqaError, match="holds files nerqa did not write"):
        with atomic_folder(target) as staging:
            (staging / "runs").mkdir()
    with atomic_folder(target, force=True) as staging:
        (staging / "runs").mkdir()
        (staging / "runs" / "log").write_text("x")
    assert (target / "runs" / "log").read_text() == "x" and (target / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left
