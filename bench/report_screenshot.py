"""Render an audit report with a hostile token and label in headless Chromium; save a screenshot.

    python bench/report_screenshot.py [--out /tmp/nerqa-report]   # needs Debian's chromium

Prints whether the hostile strings survive only as text in the rendered DOM and where the
PNG is, so a person can look at the page.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from nerqa.auditing import score, write_outputs
from nerqa.data.corpus import Corpus, Document, Sentence

HOSTILE_TOKEN = "<script>alert(1)</script>"
HOSTILE_LABEL = "<img src=x onerror=alert(1)>"


def hostile_report(folder: Path) -> Path:
    """Write an audit of a tiny corpus whose token and label are HTML injections."""
    tokens = ("Patients", "with", HOSTILE_TOKEN, "syndrome", "had", "colon", "cancer", ".")
    tags = ("O", "O", f"B-{HOSTILE_LABEL}", f"I-{HOSTILE_LABEL}", "O", "B-Disease", "I-Disease", "O")
    corpus = Corpus((Document("doc<1>", (Sentence(tokens, tags),)),))
    tag_set = ("O", f"B-{HOSTILE_LABEL}", f"I-{HOSTILE_LABEL}", "B-Disease", "I-Disease")
    probs = np.full((len(tokens), len(tag_set)), 0.02, dtype=np.float32)
    probs[:, 0] = 0.92
    probs[5, :] = [0.02, 0.02, 0.02, 0.92, 0.02]
    probs[6, :] = [0.02, 0.02, 0.02, 0.02, 0.92]
    write_outputs(score(corpus, [probs], tag_set), folder)
    return folder / "report.html"


def chromium_command() -> list[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    profile = tempfile.mkdtemp(prefix="nerqa-chromium-")
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def main() -> None:
    from smoke import add_smoke, parse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nerqa-report")
    add_smoke(parser)
    args = parse(parser)
    page = hostile_report(args.out)
    base = chromium_command()
    dom = subprocess.run(base + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    png = args.out / "report.png"
    subprocess.run(
        base + [f"--screenshot={png}", "--window-size=1200,900", page.as_uri()], capture_output=True, timeout=120
    )
    print(f"DOM has a live <script>alert: {'<script>alert' in dom}; live <img src=x: {'<img src=x' in dom}")
    print(f"hostile token shown as text: {'&lt;script&gt;alert(1)&lt;/script&gt;' in dom}")
    print(f"screenshot: {png} ({png.stat().st_size if png.exists() else 0} bytes)")


if __name__ == "__main__":
    main()
