"""A command that needs an optional extra the environment lacks says so in one line, naming the
extra, exits 1 and writes nothing: `--workers` (Ray), `--lora` (peft), `--format hf` (datasets),
`nerqa serve` (Label Studio's SDK). The packages are hidden by a None in `sys.modules`, which
makes importing them fail as it does where they are not installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from samples import TOY
from typer.testing import CliRunner

from nerqa.data.formats import write_corpus
from nerqa_cli.main import app

CASES = {
    "workers": (("ray",), ["audit", "{corpus}", "--out", "{out}", "--workers", "2"], "nerqa[scale]"),
    "lora-train": (("peft",), ["train", "{corpus}", "--out", "{out}", "--lora"], "nerqa[scale]"),
    "lora-audit": (("peft",), ["audit", "{corpus}", "--out", "{out}", "--lora"], "nerqa[scale]"),
    "hf": (("datasets",), ["convert", "{corpus}", "{out}", "--to", "hf"], "nerqa[hf]"),
    "serve": (("label_studio_ml", "label_studio_ml.api"), ["serve", "{model}", "--out", "{out}"], "nerqa[serve]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_missing_extra_is_one_line_naming_it(case: str, tmp_path: Path, monkeypatch, tiny_model: Path):
    hidden, args, extra = CASES[case]
    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)
    corpus = tmp_path / "toy.tsv"
    write_corpus(TOY, corpus)
    out = tmp_path / "out"
    values = {"corpus": str(corpus), "out": str(out), "model": str(tiny_model)}
    result = CliRunner().invoke(app, [a.format(**values) for a in args])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.output + result.stderr
    assert len(lines) == 1 and extra in lines[0] and "Traceback" not in result.output + result.stderr, lines
    assert not out.exists()
