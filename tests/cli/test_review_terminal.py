"""The review app in a real terminal (tmux): keys typed as a person types them, the screen
read back, a restart that resumes, a kill -9 that loses nothing shown as saved, and the
applied corpus holding exactly the decided changes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from review_helpers import TWICE, write_review_project

from nerqa.data.formats import read_corpus
from nerqa.review.decisions import DecisionStore

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux is not installed"
)


class Terminal:
    """One tmux session running a command, 130 x 40 unless told."""

    def __init__(self, command: str, cwd: Path, *, size: tuple[int, int] = (130, 40)) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is missing in CI: .ci/run should have installed it")
        self.name = f"nerqa-{uuid.uuid4().hex[:8]}"
        # A server of its own (-L), without any user configuration: the size given is the size.
        self.tmux = ["tmux", "-L", self.name, "-f", "/dev/null"]
        # COLUMNS/LINES (set by pytest's terminal) would override the terminal's real size.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                "-c",
                str(cwd),
                "-e",
                "TERM=xterm-256color",
                command,
            ],
            check=True,
            env=env,
        )

    def screen(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; the screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run([*self.tmux, "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.25)

    def pid(self) -> int:
        return int(
            subprocess.run(
                [*self.tmux, "display-message", "-p", "-t", self.name, "#{pane_pid}"], capture_output=True, text=True
            ).stdout
        )

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_review_project(tmp_path)


def relabel(project: Path, reviewer: str = "tmux", *, size: tuple[int, int] = (130, 40)) -> Terminal:
    # exec: the pane's process is the app itself, so kill -9 hits it and nothing else.
    return Terminal(
        # --order score: the scripted keys follow the audit's own order (the default, reach, is Pilot-tested)
        f"exec {sys.executable} -m nerqa_cli.main relabel corpus.jsonl audit --reviewer {reviewer} --order score",
        project,
        size=size,
    )


def applied(project: Path) -> None:
    """`nerqa apply` as a user runs it, into `fixed.jsonl`."""
    done = subprocess.run(
        [sys.executable, "-m", "nerqa_cli.main", "apply", "corpus.jsonl", "audit", "--out", "fixed.jsonl"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def spans(corpus) -> list[list[tuple[int, int, str]]]:
    return [[(s.start, s.end, s.label) for s in sentence.spans] for sentence in corpus.sentences]


def test_review_in_a_real_terminal_then_apply(project: Path):
    term = relabel(project)
    try:
        term.wait_for(r"Issue 1 of 8")
        term.keys("a")  # accept: "Breast" -> "Breast cancer" (sentence 5)
        term.wait_for(r"Saved: accept: 'Breast' D → 'Breast cancer' D")
        term.keys("k")  # keep the ghost span "cancer" (sentence 6)
        term.wait_for(r"Saved: keep: 'cancer' as given \(D\), no change")
        term.keys("s")  # skip the missed span "tumour": it comes back at the end
        term.wait_for(r"wrong_tag  score")
        term.keys("e", "Right", "Right", "Right", "]", "Enter")  # sentence 0: "muscular dystrophy" -> "dystrophy"
        term.wait_for(r"Saved: edit: 'muscular dystrophy' D → 'dystrophy' D")
        term.keys("u")
        term.wait_for(r"Undone: edit wrong_tag")
        term.keys("e", "Right", "Right", "Right", "]", "Enter")  # the same edit again
        term.wait_for(r"Saved: edit: 'muscular dystrophy' D → 'dystrophy' D \(#6\)")  # the skip is a row of the log too
        term.keys("e", "t", "Enter")  # sentence 1: HD D -> C
        term.wait_for(r"2 other mentions of 'HD' read as this one did")
        term.keys("p")
        term.wait_for(r"Extend 'edit")  # the preview: both mentions, checked
        term.keys("Enter")
        term.wait_for(r"extended to 2 linked mentions")
        term.keys("q")
        time.sleep(1.5)
    finally:
        term.close()
    term = relabel(project)  # restart: resumes
    try:
        screen = term.wait_for(r"Issue \d+ of 8")
        # ss, gs, and the three HD issues (sentence 0 edited by hand, then again by propagation,
        # sentence 2 by propagation): propagated edits count as edits; the skip is still open.
        assert "decided 5 (accepted 1, kept 1, edited 3) · skipped 1" in screen
        for _ in range(20):  # finish: keep the rest
            if "All 8 issues decided" in term.screen():
                break
            term.keys("k")
        term.wait_for(r"All 8 issues decided")
        term.keys("q")
        time.sleep(1.5)
    finally:
        term.close()
    applied(project)
    expected = spans(read_corpus(project / "corpus.jsonl"))
    expected[5] = [(0, 2, "D")]
    expected[0] = [(0, 1, "C"), (4, 5, "D")]
    expected[1] = [(1, 2, "C")]
    expected[2] = [(0, 1, "C")]
    assert spans(read_corpus(project / "fixed.jsonl")) == expected


def test_kill_9_loses_no_decision_the_screen_showed_as_saved(project: Path):
    term = relabel(project, "killed")
    try:
        term.wait_for(r"Issue 1 of 8")
        for key in ("a", "k", "s", "a", "k"):
            term.keys(key)
        screen = term.wait_for(r"\(#5\)")
        shown = max(int(n) for n in re.findall(r"\(#(\d+)\)", screen))
        os.kill(term.pid(), 9)
        time.sleep(0.5)
    finally:
        term.close()
    rows = DecisionStore.open(project / "audit", read_only=True).all()
    assert len(rows) >= shown == 5 and [r.action for r in rows[:5]] == ["accept", "keep", "skip", "accept", "keep"]


def test_same_form_list_of_a_form_twice_in_one_sentence(tmp_path: Path):
    project = write_review_project(tmp_path, TWICE)
    term = relabel(project)
    try:
        term.wait_for(r"Issue 1 of")
        for _ in range(10):  # to the wrong_tag issue on "HD"
            if re.search(r"wrong_tag\s+score", term.screen()) and "'HD' elsewhere" in term.screen():
                break
            term.keys("s")
        term.keys("f")
        screen = term.wait_for(r"'HD': 4 occurrences")
        assert (
            len(re.findall(r"sentence\s+1 \(document d1\)", screen)) == 2
        )  # the form twice in sentence 1, listed twice
        term.keys("Down", "Enter")
        term.wait_for(r"sentence 1 of document d1")
        term.keys("q")
        time.sleep(1.0)
        assert "Traceback" not in term.screen() and "DuplicateID" not in term.screen()
    finally:
        term.close()


def test_the_footer_shows_help_and_quit_at_80_by_24(project: Path):
    term = relabel(project, size=(80, 24))
    try:
        term.wait_for(r"Issue 1 of 8")
        screen = term.wait_for(r"q Quit")  # the footer draws a moment after the first screen
        footer = screen.rstrip().splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer
        term.keys("?")
        term.wait_for(r"history: every decision")
        term.keys("Escape", "q")
        time.sleep(1.0)
    finally:
        term.close()


def test_history_re_decides_an_issue_from_an_earlier_session_and_apply_writes_it(project: Path):
    term = relabel(project, "ann")
    try:
        term.wait_for(r"Issue 1 of 8")
        term.keys("a")  # accept "Breast" -> "Breast cancer"
        term.wait_for(r"Saved: accept: 'Breast' D → 'Breast cancer' D")
        term.keys("q")
        time.sleep(1.0)
    finally:
        term.close()
    term = relabel(project, "ann")  # the next day: a new session
    try:
        term.wait_for(r"Issue \d+ of 8")
        term.keys("h")
        term.wait_for(r"1 decision, newest first")
        term.keys("Tab", "Enter")  # the list, then the one decision there
        term.wait_for(r"Decide again on span_shift 'Breast'")
        term.keys("k")  # keep the given labels instead
        term.wait_for(r"Saved: keep: 'Breast' as given \(D\), no change")
        screen = term.wait_for(r"kept 1")
        assert "accepted 0" in screen
        term.keys("q")
        time.sleep(1.0)
    finally:
        term.close()
    applied(project)
    assert spans(read_corpus(project / "fixed.jsonl")) == spans(
        read_corpus(project / "corpus.jsonl")
    )  # the keep, not the accept
    rows = DecisionStore.open(project / "audit", read_only=True).all()
    assert [r.action for r in rows] == ["accept", "keep"] and rows[1].supersedes == (rows[0].uid,)


def test_back_goes_to_an_issue_decided_in_an_earlier_session(project: Path):
    term = relabel(project, "ann")
    try:
        term.wait_for(r"Issue 1 of 8")
        term.keys("a")
        term.wait_for(r"Saved: accept: 'Breast' D → 'Breast cancer' D")
        term.keys("q")
        time.sleep(1.0)
    finally:
        term.close()
    term = relabel(project, "ann")
    try:
        term.wait_for(r"Issue 2 of 8")
        term.keys("b")
        screen = term.wait_for(r"span_shift\s+score")
        assert "[accept]" in screen
        term.keys("u")  # undo reaches the earlier session's decision too
        term.wait_for(r"Undone: accept span_shift")
        term.keys("q")
        time.sleep(1.0)
    finally:
        term.close()
    assert DecisionStore.open(project / "audit", read_only=True).effective() == []


def test_an_unexpected_error_exits_1_says_where_the_decisions_are_and_logs_the_traceback(project: Path):
    # The app as installed, with one fault planted: the third decision raises.
    script = project / "faulty.py"
    script.write_text(
        "import sys\n"
        "from nerqa.review import session\n"
        "real = session.ReviewSession.decide\n"
        "calls = []\n"
        "def decide(self, *args, **kwargs):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        raise RuntimeError('planted fault')\n"
        "    return real(self, *args, **kwargs)\n"
        "session.ReviewSession.decide = decide\n"
        "from nerqa_cli.main import main\n"
        "sys.argv = ['nerqa', 'relabel', 'corpus.jsonl', 'audit', '--reviewer', 'crash']\n"
        "main()\n"
    )
    term = Terminal(f"{sys.executable} {script}; echo exit=$?; sleep 30", project)
    try:
        term.wait_for(r"Issue 1 of 8")
        term.keys("a")
        term.wait_for(r"Saved: accept")
        term.keys("k")
        term.wait_for(r"Saved: keep")
        term.keys("a")
        err = term.wait_for(r"exit=\d")
    finally:
        term.close()
    assert "exit=1" in err and "Traceback" not in err
    assert "planted fault" in err and "all 2 decisions recorded are saved in" in " ".join(err.split())
    log = (project / "audit" / "relabel-errors.log").read_text()
    assert "Traceback" in log and "RuntimeError: planted fault" in log
    assert len(DecisionStore.open(project / "audit", read_only=True).all()) == 2


def test_a_guideline_question_decided_undone_and_decided_again_then_applied(tmp_path: Path):
    project = write_review_project(tmp_path, questions=True)
    term = relabel(project)
    try:
        term.wait_for(r"Issue 1 of 8")
        term.keys("g")
        term.wait_for(r"q1  D -> C\? 3 mentions \(HD 3\)")
        term.keys("Enter")
        screen = term.wait_for(r"Relabel the checked mentions to: 1 C")
        # Every member the decision changes is listed, each in its sentence, checked.
        assert "The decision changes these 3 mentions given D" in screen
        assert all(f"s. {i}:" in screen for i in (0, 1, 2)), screen
        term.keys("1")
        term.wait_for(r"Saved: question q1, 3 mentions in 3 sentences D → C \(u undoes them together\)")
        term.keys("u")
        term.wait_for(r"Undone: edit a guideline question's relabel and 2 more \(saved\)")
        term.keys("g")
        term.wait_for(r"q1  D -> C\?")
        term.keys("Enter")
        term.wait_for(r"Relabel the checked mentions to")
        # Leave out the second member (HD in sentence 1): the reviewer read it and keeps it D.
        term.keys("Down", "Space")
        term.wait_for(r"s\. 1: In \[HD\]D the risk was high \.\s+left out: stays D")
        term.keys("1")
        term.wait_for(r"Saved: question q1, 2 mentions in 2 sentences D → C, 1 left out")
        term.keys("g")
        term.wait_for(r"\[decided: C\]")
        term.keys("Escape", "q")
        time.sleep(1.5)
    finally:
        term.close()
    applied(project)
    expected = spans(read_corpus(project / "corpus.jsonl"))
    # Exactly the checked mentions: HD in sentences 0 and 2; HD in sentence 1 and "muscular
    # dystrophy" stay D.
    expected[0] = [(0, 1, "C"), (3, 5, "D")]
    expected[2] = [(0, 1, "C")]
    assert spans(read_corpus(project / "fixed.jsonl")) == expected
    rows = DecisionStore.open(project / "audit", read_only=True).all()
    assert [r.action for r in rows] == ["edit"] * 3 + ["undo"] + ["edit"] * 2
