"""The `nerqa` command through Typer's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import DEMO, NCBI, needs_shared
from samples import CONLL, NCBI_SAMPLE
from typer.testing import CliRunner

from nerqa.data.formats import read_corpus
from nerqa_cli.main import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_convert_file_to_file_and_back(write, tmp_path: Path):
    source = write("in.txt", NCBI_SAMPLE)
    result = invoke("convert", source, tmp_path / "out.tsv", "--merge-types", "Disease")
    assert result.exit_code == 0, result.output
    assert result.exception is None
    corpus = read_corpus(tmp_path / "out.tsv")
    assert corpus.entity_types == ("Disease",)
    assert [d.id for d in corpus.documents] == ["111"]


def test_convert_folder_of_splits_to_nemo(write, tmp_path: Path):
    write("splits/train.tsv", CONLL)
    write("splits/dev.tsv", "x\tB-Disease\n")
    result = invoke("convert", tmp_path / "splits", tmp_path / "nemo", "--to", "nemo")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "nemo").iterdir())
    assert names == [
        ".nerqa-output.json",
        "label_ids.csv",
        "labels_dev.txt",
        "labels_train.txt",
        "text_dev.txt",
        "text_train.txt",
    ]


def test_convert_needs_an_output_format_it_can_tell(write, tmp_path: Path):
    result = invoke("convert", write("in.tsv", CONLL), tmp_path / "out.unknown")
    assert result.exit_code == 1
    assert "pass --to" in result.stderr
    assert not (tmp_path / "out.unknown").exists()


def test_bad_input_gives_one_line_no_traceback_and_no_output(write, tmp_path: Path):
    source = write("bad.tsv", "a\tO\nb\tI-Disease\n")
    target = tmp_path / "out.jsonl"
    result = invoke("convert", source, target)
    assert result.exit_code == 1
    assert "Traceback" not in result.output + result.stderr
    assert f"{source}, line 2: 'I-Disease' follows 'O'" in result.stderr
    assert not target.exists()
    assert list(tmp_path.glob(".out.jsonl*")) == []
    repaired = invoke("convert", source, target, "--repair")
    assert repaired.exit_code == 0 and target.exists()


def test_missing_path_and_bad_format_option(tmp_path: Path):
    result = invoke("stats", tmp_path / "nope.tsv")
    assert result.exit_code == 1 and "no such file" in result.stderr
    result = invoke("stats", tmp_path, "--format", "xml")
    assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
        "Error: --format must be one of conll, ncbi, pubtator, nemo, jsonl, jsonl-tokens, hf, spacy, not 'xml'"
    ]
    result = invoke("stats", tmp_path, "--scheme", "bilou")
    assert result.exit_code == 1 and "--scheme must be one of auto, iob1, iob2, bioes, not 'bilou'" in result.stderr


def test_stats_tables_and_json(write):
    source = write("in.txt", NCBI_SAMPLE)
    result = invoke("stats", source)
    assert result.exit_code == 0, result.output
    assert "Surface forms labeled with more than one type" in result.output
    assert "Modifier 1" in result.output and "SpecificDisease 1" in result.output
    data = json.loads(invoke("stats", source, "--json").output)
    (split,) = data.values()
    assert split["n_entities"] == 4
    assert split["multi_type_forms"] == [{"text": "HD", "types": {"Modifier": 1, "SpecificDisease": 1}, "unlabeled": 0}]


def test_stats_on_the_demo_corpus_agree_with_the_library():
    from nerqa.data.stats import corpus_stats

    expected = corpus_stats(read_corpus(DEMO / "abstracts.txt"))
    data = json.loads(invoke("stats", DEMO / "abstracts.txt", "--json").output)["abstracts"]
    assert (data["n_documents"], data["n_sentences"], data["n_entities"]) == (
        expected.n_documents,
        expected.n_sentences,
        expected.n_entities,
    )
    assert expected.n_documents == 60
    result = runner.invoke(app, ["stats", str(DEMO / "abstracts.txt")], env={"COLUMNS": "200"})
    row = next(line for line in result.output.splitlines() if "│ sentences" in line)
    assert f"{expected.n_sentences:,}" in row


@needs_shared
def test_stats_on_ncbi_training_shows_hd_with_counts():
    result = runner.invoke(app, ["stats", str(NCBI / "original/NCBI_corpus_training.txt")], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    row = next(
        line
        for line in result.output.splitlines()
        if "│ HD " in line and "labeled" not in line and "Modifier 29" in line
    )
    assert "SpecificDisease 24" in row


def test_convert_one_file_to_a_nemo_folder_writes_into_the_folder(write, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("convert", write("train.tsv", CONLL), tmp_path / "out" / "nemo", "--to", "nemo")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out" / "nemo").iterdir()) == [
        "label_ids.csv",
        "labels_train.txt",
        "text_train.txt",
    ]
    assert not list(tmp_path.glob("text_*")) and not (tmp_path / "label_ids.csv").exists()
    assert (
        read_corpus(tmp_path / "out" / "nemo" / "text_train.txt").sentences
        == read_corpus(tmp_path / "train.tsv").sentences
    )


def _help(*command: str, width: int = 100) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": str(width), "TERMINAL_WIDTH": str(width)})
    assert result.exit_code == 0, result.output
    return result.output


def test_help_lists_choices_shows_no_bool_metavar_and_gives_an_example():
    from nerqa_cli.main import COMMANDS

    commands = [[name] for name in COMMANDS] + [list(pair) for pair in GROUPED]
    for command in commands:
        text = _help(*command)
        assert "<bool>" not in text, command  # flags (--help, --repair, ...) take no value
        assert f"Example: nerqa {' '.join(command)} " in " ".join(text.split()), command
    audit = _help("audit")
    assert "both|full|fast|top|top+fast" in audit and "types|iob" in audit and "auto|iob1|iob2|bioes" in audit
    assert "--repair " in audit and "--help " in audit
    for command in ("convert", "predict", "apply"):
        flat = " ".join(_help(command, width=200).split())
        assert "-t, --to FORMAT Output format (conll, ncbi, pubtator, nemo, jsonl, jsonl-tokens, hf, spacy)" in flat, (
            command
        )
    import typer.main

    select = {p.name: p.metavar for p in typer.main.get_command(app).commands["select"].params}
    assert select["strategy"] == "entropy|least_confidence|mnlp|margin|random" and select["to"] == "FORMAT"
    # One name per idea: --tool names an annotation tool in select as in tasks, --trained a trained
    # model as in audit, --model an encoder as in train and audit.
    assert select["tool"] == "labelstudio|prodigy|doccano"
    names = {p.name: p.opts for p in typer.main.get_command(app).commands["select"].params}
    assert names["trained"] == ["--trained"] and names["model"] == ["--model"]
    tasks = {p.name: p.opts for p in typer.main.get_command(app).commands["tasks"].params}
    assert tasks["tool"] == ["--tool"]


GROUPED = [("compare", "models"), ("compare", "audits"), ("decisions", "export"), ("decisions", "import")]


def test_every_help_at_80_columns_shows_whole_option_names_choices_and_upper_case_usage():
    import typer.main

    from nerqa_cli.main import COMMANDS

    root = typer.main.get_command(app)
    commands = [([name], root.commands[name]) for name in COMMANDS]
    commands += [([group, name], root.commands[group].commands[name]) for group, name in GROUPED]
    for words, command in commands:
        text = _help(*words, width=80)
        assert max(len(line) for line in text.splitlines()) <= 80, words
        tokens = set(text.replace(",", " ").split())
        usage = text.split("\n\n")[0]
        assert "{" not in usage and "<" not in usage, usage
        for param in command.params:
            if getattr(param, "hidden", False):
                continue  # an old option kept only to point to its new form
            if param.param_type_name == "argument":
                assert param.name.upper() in usage, (words, param.name)
                continue
            for name in param.opts + param.secondary_opts:
                assert name in tokens, (words, name)  # whole, never cut with an ellipsis
            if param.metavar:
                assert param.metavar in tokens, (words, param.metavar)
        assert "…" not in text and "<list" not in text and "<path>" not in text, words


def test_top_issues_table_shows_each_span_whole_at_80_columns():
    from review_helpers import TAGS, one_hot
    from rich.console import Console

    from nerqa.auditing import score
    from nerqa.data.corpus import Corpus, Document, Sentence
    from nerqa_cli.audit import issues_table

    words = "Patients with hereditary nonpolyposis colorectal cancer syndrome were screened for it again later".split()
    given = ["O"] * len(words)
    given[2:7] = ["B-D", "I-D", "I-D", "I-D", "I-D"]
    corpus = Corpus((Document("d1", (Sentence(tuple(words), tuple(given)),)),))
    result = score(corpus, [one_hot(["O"] * len(words))], TAGS)
    console = Console(width=80, record=True, force_terminal=False)
    console.print(issues_table(result, 5, width=80))
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    row = next(line for line in lines if "ghost_span" in line)
    assert "hereditary nonpolyposis" in row and "D → O" in row  # the span starts on the issue's own line
    assert "colorectal cancer syndrome" in text  # and is shown whole (folded, not cut)
    wide = Console(width=160, record=True, force_terminal=False)
    wide.print(issues_table(result, 5, width=160))
    wide_text = wide.export_text()
    assert "Patients with" in wide_text and result.issues[0].id in wide_text


def test_stats_into_a_pipe_that_closes_early_exits_0(write):
    import subprocess
    import sys

    corpus = write("many.tsv", "".join(f"w{n}\tB-D\nx\tO\n\n" for n in range(4000)))
    for extra in ([], ["--json"]):
        process = subprocess.Popen(
            [sys.executable, "-m", "nerqa_cli.main", "stats", str(corpus), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "COLUMNS": "80"},
        )
        process.stdout.close()  # the reader is gone before nerqa writes: its first write meets a closed pipe
        assert process.wait(60) == 0, process.stderr.read().decode()


def test_the_command_list_is_whole_at_80_columns_and_there_is_a_version():
    import subprocess
    import sys

    from nerqa_cli.main import COMMANDS

    done = subprocess.run(
        [sys.executable, "-m", "nerqa_cli.main", "--help"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "COLUMNS": "80"},
    )
    listing = done.stdout.split("Commands:")[1]
    assert done.returncode == 0 and "..." not in listing
    for name, (_, summary, _) in COMMANDS.items():
        assert f"  {name}" in done.stdout and summary in done.stdout
    assert all(len(line) <= 80 for line in done.stdout.splitlines())
    version = subprocess.run([sys.executable, "-m", "nerqa_cli.main", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == "nerqa 0.1.0"


def test_a_dash_reads_the_corpus_from_standard_input(tmp_path: Path):
    stats = runner.invoke(app, ["stats", "-"], input=CONLL)
    assert stats.exit_code == 0, stats.output + stats.stderr
    assert "stdin" in stats.output
    converted = runner.invoke(app, ["convert", "-", str(tmp_path / "out.jsonl")], input=CONLL)
    assert converted.exit_code == 0, converted.stderr
    assert [s.tags for s in read_corpus(tmp_path / "out.jsonl").sentences] == [
        s.tags for s in read_corpus(_write(tmp_path / "in.conll", CONLL)).sentences
    ]
    empty = runner.invoke(app, ["stats", "-"], input="")
    assert empty.exit_code == 1 and "<stdin>: standard input is empty" in empty.stderr
    binary = runner.invoke(app, ["stats", "-", "--format", "spacy"], input=CONLL)
    assert binary.exit_code == 1 and "cannot come from standard input" in binary.stderr
    review = runner.invoke(app, ["relabel", "-", str(tmp_path)], input=CONLL)
    assert review.exit_code == 1 and "reads your keys from the terminal" in review.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_json_errors_name_the_column_once(tmp_path: Path):
    bad = _write(tmp_path / "bad.jsonl", '{"text": "a\tb"}\n')
    result = runner.invoke(app, ["stats", str(bad)])
    assert result.exit_code == 1
    assert "line 1: invalid JSON: Invalid control character at column 12" in result.stderr
    assert "at at" not in result.stderr


def test_a_docbin_with_an_i_that_no_b_opens_is_one_line(tmp_path: Path):
    import numpy as np
    from spacy.attrs import ENT_IOB, ENT_TYPE
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    vocab = Vocab()
    doc = Doc(vocab, words=["Aspirin", "works"])
    doc.from_array([ENT_IOB, ENT_TYPE], np.array([[1, vocab.strings.add("Chemical")], [2, 0]], dtype="uint64"))
    bins = DocBin()
    bins.add(doc)
    bins.to_disk(tmp_path / "bad.spacy")
    result = runner.invoke(app, ["stats", str(tmp_path / "bad.spacy")])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "document 1: its token IOB is not a valid sequence ([E093]" in result.stderr
    assert "Traceback" not in result.output + result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_accept_and_apply_read_the_audited_corpus_from_standard_input(tmp_path: Path):
    from review_helpers import write_review_project

    project = write_review_project(tmp_path)
    text = (project / "corpus.jsonl").read_text(encoding="utf-8")
    accepted = runner.invoke(app, ["accept", "-", str(project / "audit"), "--type", "wrong_tag"], input=text)
    assert accepted.exit_code == 0, accepted.stderr
    applied = runner.invoke(
        app, ["apply", "-", str(project / "audit"), "--out", str(tmp_path / "fixed.jsonl")], input=text
    )
    assert applied.exit_code == 0, applied.stderr
    before, after = read_corpus(project / "corpus.jsonl"), read_corpus(tmp_path / "fixed.jsonl")
    assert [s.tokens for s in before.sentences] == [s.tokens for s in after.sentences]
    assert [s.tags for s in before.sentences] != [s.tags for s in after.sentences]
    # Without a name to tell the output format by, apply says so in one line.
    unnamed = runner.invoke(app, ["apply", "-", str(project / "audit"), "--out", str(tmp_path / "fixed")], input=text)
    assert unnamed.exit_code == 1 and "pass --to" in unnamed.stderr
