"""The output rule (`nerqa.files`), held by every command that writes: over every kind of
output target, nothing outside the named target changes, and a refusal changes nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from review_helpers import write_review_project
from samples import TOY
from typer.testing import CliRunner

from nerqa.data.formats import write_corpus
from nerqa.files import MANIFEST
from nerqa_cli.main import app

TARGETS = (
    "new",
    "file",
    "link_to_file",
    "dangling_link",
    "empty_folder",
    "foreign_folder",
    "stdout",
    "unwritable_parent",
)
# What each kind of command makes of each target: written (True) or refused (False).
FILE_OUTPUT = {
    "new": True,
    "file": True,
    "link_to_file": True,  # written through: the file it names is replaced, the link stays
    "dangling_link": True,  # written through: the file it names is created
    "empty_folder": False,
    "foreign_folder": False,
    "stdout": True,
    "unwritable_parent": False,
}
FOLDER_OUTPUT = {
    "new": True,
    "file": False,
    "link_to_file": False,
    "dangling_link": False,
    "empty_folder": True,
    "foreign_folder": False,  # without --force
    "stdout": False,
    "unwritable_parent": False,
}
NAMES = st.from_regex(r"[A-Za-z0-9_ü][A-Za-z0-9_ü -]{0,10}[A-Za-z0-9_ü]?", fullmatch=True)
MASK = os.umask(0)
os.umask(MASK)


def lay_out(root: Path, kind: str, name: str, content: bytes) -> str:
    """Make the target of `kind` under `root/place` (a fresh folder); returns the --out value."""
    place = root / "place"
    place.mkdir()
    target = place / name
    if kind == "file":
        target.write_bytes(content)
    elif kind == "link_to_file":
        (place / "real").write_bytes(content)
        target.symlink_to("real")
    elif kind == "dangling_link":
        target.symlink_to("real")
    elif kind == "empty_folder":
        target.mkdir()
    elif kind == "foreign_folder":
        target.mkdir()
        (target / "notes.txt").write_bytes(content)
    elif kind == "stdout":
        return "-"
    elif kind == "unwritable_parent":
        (place / "blocker").write_bytes(content)  # a file where a folder would have to be: root cannot either
        return str(place / "blocker" / name)
    return str(target)


def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every path under `roots`: its kind, mode, and content hash or link target."""
    seen: dict[str, tuple] = {}
    for root in roots:
        for base, folders, files in os.walk(root):
            for name in folders + files:
                if name.endswith(("-shm", "-wal")):
                    continue  # SQLite's own index of a WAL database, which any reader of it keeps
                path = os.path.join(base, name)
                info = os.lstat(path)
                if os.path.islink(path):
                    seen[path] = ("link", os.readlink(path))
                elif os.path.isdir(path):
                    seen[path] = ("dir", info.st_mode & 0o7777)
                else:
                    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
                    seen[path] = ("file", info.st_mode & 0o7777, digest)
    return seen


def allowed(path: str, out: str, kind: str) -> bool:
    """Whether a change at `path` is inside the named target (for a link: the file it names)."""
    destination = str(Path(out).parent / "real") if kind in ("link_to_file", "dangling_link") else out
    return path == destination or path.startswith(destination + os.sep)


def check_rule(before: dict, after: dict, out: str, kind: str, expected: bool, code: int, stdout: str) -> None:
    assert (code == 0) == expected, f"{kind}: exit {code}\n{stdout}"
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    if code != 0 or kind == "stdout":
        assert changed == set(), f"{kind}: a refusal (or stdout) changed {sorted(changed)}"
        if kind == "stdout" and code == 0:
            assert stdout.strip(), "nothing was written to standard output"
        return
    outside = sorted(p for p in changed if not allowed(p, out, kind))
    assert outside == [], f"{kind}: changed outside the target: {outside}"
    assert changed, f"{kind}: exit 0 but nothing was written"
    for path in changed - set(before):
        if path in after and after[path][0] == "file" and path not in before:
            assert after[path][1] == 0o666 & ~MASK, f"{path}: mode {after[path][1]:o}, not the umask's"
        elif path in after and after[path][0] == "dir":
            assert after[path][1] == 0o777 & ~MASK, f"{path}: mode {after[path][1]:o}, not the umask's"
    if kind in ("link_to_file", "dangling_link"):
        assert os.path.islink(out), "the link was replaced"


runner = CliRunner()


def run_command(argv: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, argv)
    assert "Traceback" not in result.stderr, result.stderr
    if result.exit_code != 0:
        assert result.stderr.strip().startswith("Error:") and len(result.stderr.strip().splitlines()) == 1, (
            result.stderr
        )
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_model: Path, tiny_classifier: Path) -> dict[str, Path]:
    """The commands' inputs, in a folder of their own (snapshotted too: nothing there may change)."""
    folder = tmp_path_factory.mktemp("inputs")
    write_corpus(TOY, folder / "toy.tsv")
    (folder / "splits").mkdir()
    write_corpus(TOY, folder / "splits" / "train.tsv")
    write_corpus(TOY, folder / "splits" / "dev.tsv")
    project = write_review_project(folder / "project")
    accepted = runner.invoke(app, ["accept", str(project / "corpus.jsonl"), str(project / "audit"), "--all"])
    assert accepted.exit_code == 0, accepted.stderr
    disease = folder / "disease.tsv"  # the tiny classifier's one type
    disease.write_text("HD\tB-Disease\npatients\tO\n\ncancer\tB-Disease\nrisk\tO\n\n")
    return {
        "toy": folder / "toy.tsv",
        "splits": folder / "splits",
        "corpus": project / "corpus.jsonl",
        "audit": project / "audit",
        "model": tiny_model,
        "classifier": tiny_classifier,
        "disease": disease,
        "root": folder,
    }


CHEAP = {
    "convert to a file": (lambda i, t: ["convert", i["toy"], t, "--to", "conll"], FILE_OUTPUT),
    "convert to spaCy": (lambda i, t: ["convert", i["toy"], t, "--to", "spacy"], FILE_OUTPUT),
    "convert to a dataset folder": (lambda i, t: ["convert", i["toy"], t, "--to", "hf"], FOLDER_OUTPUT),
    "convert splits to a folder": (lambda i, t: ["convert", i["splits"], t, "--to", "jsonl"], FOLDER_OUTPUT),
    "apply": (lambda i, t: ["apply", i["corpus"], i["audit"], "--out", t, "--to", "conll"], FILE_OUTPUT),
    "tasks": (lambda i, t: ["tasks", i["corpus"], i["audit"], "--out", t], FILE_OUTPUT),
    "decisions export": (lambda i, t: ["decisions", "export", i["audit"], "--out", t], FILE_OUTPUT),
}
MODEL_COMMANDS = {
    "predict": (lambda i, t: ["predict", i["classifier"], i["disease"], "--out", t, "--to", "conll"], FILE_OUTPUT),
    "train": (
        lambda i, t: ["train", i["toy"], "--model", i["model"], "--epochs", "1", "--out", t],
        FOLDER_OUTPUT,
    ),
    "audit": (
        lambda i, t: ["audit", i["toy"], "--model", i["model"], "--mode", "fast", "-k", "2", "--out", t, "--show", "0"],
        FOLDER_OUTPUT,
    ),
    "select": (
        lambda i, t: ["select", i["disease"], "--trained", i["classifier"], "--budget", "1", "--out", t],
        FOLDER_OUTPUT,
    ),
}


def _check(command, inputs: dict, tmp_path_factory, kind: str, name: str, content: bytes) -> None:
    build, outcomes = command
    root = tmp_path_factory.mktemp("target")
    out = lay_out(root, kind, name, content)
    before = snapshot(root, inputs["root"])
    code, stdout = run_command([str(a) for a in build(inputs, out)])
    after = snapshot(root, inputs["root"])
    check_rule(before, after, out, kind, outcomes[kind], code, stdout)


EVERY_TARGET = [example(kind=kind, name="out", content=b"mine\n") for kind in TARGETS]


def every_target(test):
    for each in EVERY_TARGET:
        test = each(test)
    return test


@pytest.mark.parametrize("label", sorted(CHEAP))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@every_target
@given(kind=st.sampled_from(TARGETS), name=NAMES, content=st.binary(max_size=20))
def test_commands_that_write_keep_the_output_rule(label, inputs, tmp_path_factory, kind, name, content):
    _check(CHEAP[label], inputs, tmp_path_factory, kind, name, content)


@pytest.mark.parametrize("label", sorted(MODEL_COMMANDS))
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@every_target
@given(kind=st.sampled_from(TARGETS), name=NAMES, content=st.binary(max_size=20))
def test_model_commands_keep_the_output_rule(label, inputs, tmp_path_factory, kind, name, content):
    _check(MODEL_COMMANDS[label], inputs, tmp_path_factory, kind, name, content)


def test_a_folder_nerqa_wrote_is_written_again_and_force_keeps_foreign_files(inputs, tmp_path: Path):
    out = tmp_path / "ds"
    assert run_command(["convert", str(inputs["toy"]), str(out), "--to", "hf"])[0] == 0
    assert (out / MANIFEST).is_file()
    assert run_command(["convert", str(inputs["toy"]), str(out), "--to", "hf"])[0] == 0  # its own: rewritten
    (out / "notes.txt").write_text("mine")
    code, _ = run_command(["convert", str(inputs["toy"]), str(out), "--to", "hf"])
    assert code == 1 and (out / "notes.txt").read_text() == "mine"
    assert run_command(["convert", str(inputs["toy"]), str(out), "--to", "hf", "--force"])[0] == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "state.json").is_file()


def test_an_audit_folder_keeps_its_decisions_when_audited_again(inputs, tmp_path: Path):
    """Re-auditing into the folder of an earlier audit (the fold cache, the review's decisions) is
    writing into nerqa's own folder: allowed, and the decision log survives."""
    out = tmp_path / "audit"
    argv = ["audit", str(inputs["toy"]), "--model", str(inputs["model"]), "--mode", "fast", "-k", "2"]
    assert run_command([*argv, "--out", str(out), "--show", "0"])[0] == 0
    (out / "decisions.sqlite").write_bytes(b"kept")
    assert run_command([*argv, "--out", str(out), "--show", "0"])[0] == 0
    assert (out / "decisions.sqlite").read_bytes() == b"kept"


def test_a_failed_audit_leaves_no_folder(tmp_path: Path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("-DOCSTART- O\n\n")
    code, _ = run_command(["audit", str(empty), "--out", str(tmp_path / "X")])
    assert code == 1 and not (tmp_path / "X").exists()


@pytest.mark.parametrize("kind", ["new", "empty_folder", "foreign_folder", "file"])
def test_serve_claims_its_folder_under_the_rule(kind, inputs, tmp_path: Path):
    """`nerqa serve` runs until stopped: a real process, stopped with SIGTERM once it serves."""
    out = lay_out(tmp_path, kind, "serve", b"mine\n")
    before = snapshot(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "nerqa_cli.main", "serve", str(inputs["classifier"]), "--out", out, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        lines.append(line)
        if "Serving" in line or time.monotonic() > deadline:
            process.send_signal(signal.SIGTERM)
            break
    rest, _ = process.communicate(timeout=60)
    code = process.returncode
    check_rule(before, snapshot(tmp_path), out, kind, FOLDER_OUTPUT[kind], code, "".join(lines) + rest)
