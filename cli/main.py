"""The `nerqa` command: one small module per subcommand, wired here.

Commands register in `COMMANDS`; a family of related subcommands goes into a group (a
`typer.Typer` of its own, added with `add_group`), as spaCy's `debug` and `init` are.
"""

from __future__ import annotations

import typer

from nerqa_cli.accept import accept_cli
from nerqa_cli.apply import apply_cli
from nerqa_cli.audit import audit_cli
from nerqa_cli.autofix import autofix_cli
from nerqa_cli.compare import compare_audits_cli, compare_models_cli
from nerqa_cli.convert import convert_cli
from nerqa_cli.decisions import export_cli as decisions_export_cli
from nerqa_cli.decisions import import_cli as decisions_import_cli
from nerqa_cli.evaluate import evaluate_cli
from nerqa_cli.help import readable_help
from nerqa_cli.predict import predict_cli
from nerqa_cli.relabel import relabel_cli
from nerqa_cli.select import select_cli
from nerqa_cli.serve import serve_cli
from nerqa_cli.stats import stats_cli
from nerqa_cli.tasks import tasks_cli
from nerqa_cli.train import train_cli

# Every command group's settings. Click's plain help (no rich markup): it never cuts an option
# name at 80 columns, as rich's tables did.
TYPER_SETTINGS = {
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_show_locals": False,
    "rich_markup_mode": None,
}

app = typer.Typer(name="nerqa", help="Data-centric quality assurance for named-entity corpora.", **TYPER_SETTINGS)

readable_help()

# Each command with its one-line summary in `nerqa --help` (whole at 80 columns) and an example
# of its use (shown at the end of its own --help).
COMMANDS = {
    "convert": (
        convert_cli,
        "Convert a corpus between formats, losslessly.",
        "nerqa convert NCBItrainset_corpus.txt train.tsv --merge-types Disease",
    ),
    "stats": (stats_cli, "Documents, sentences, entities per type, inconsistent forms.", "nerqa stats train.tsv"),
    "train": (
        train_cli,
        "Fine-tune a transformer token classifier.",
        "nerqa train train.tsv --dev dev.tsv --out model",
    ),
    "evaluate": (evaluate_cli, "Precision, recall and F1 per type.", "nerqa evaluate model test.tsv"),
    "predict": (
        predict_cli,
        "Tag a corpus or raw text with a trained model.",
        "nerqa predict model abstracts.txt --text --out tagged.jsonl",
    ),
    "audit": (audit_cli, "Find the labels most likely wrong, with fixes.", "nerqa audit train.tsv --out audit"),
    "relabel": (relabel_cli, "Review the audit's issues in the terminal app.", "nerqa relabel train.tsv audit"),
    "accept": (
        accept_cli,
        "Accept the audit's suggestions in bulk.",
        "nerqa accept train.tsv audit --type span_shift --max-score 0.2 --dry-run",
    ),
    "autofix": (
        autofix_cli,
        "Fix confident errors no one reviewed, as automatic decisions.",
        "nerqa autofix train.tsv audit --dry-run",
    ),
    "tasks": (
        tasks_cli,
        "Write undecided issues as annotation-tool tasks.",
        "nerqa tasks train.tsv audit --tool labelstudio --limit 200 --out tasks.json",
    ),
    "apply": (
        apply_cli,
        "Write the corpus with the decisions applied.",
        "nerqa apply train.tsv audit --out train.fixed.tsv",
    ),
    "select": (
        select_cli,
        "Choose the sentences most worth annotating next.",
        "nerqa select abstracts.txt --trained model --labeled train.tsv --budget 200 --tool labelstudio --out batch1",
    ),
    "serve": (
        serve_cli,
        "Serve a model to Label Studio as an ML backend.",
        "nerqa serve model --corpus train.tsv --port 9090 --out serve",
    ),
}
for _name, (_command, _summary, _example) in COMMANDS.items():
    app.command(_name, short_help=_summary, epilog=f"Example: {_example}")(_command)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"nerqa {version('nerqa')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Data-centric quality assurance for named-entity corpora."""


def add_group(name: str, help: str) -> typer.Typer:
    """A command group `nerqa NAME ...`; register its subcommands with `group.command(...)`."""
    group = typer.Typer(name=name, help=help, **TYPER_SETTINGS)
    app.add_typer(group, name=name)
    return group


decisions = add_group("decisions", "Export the decision log, or import decisions.")
decisions.command("export", epilog="Example: nerqa decisions export audit --out decisions.jsonl")(decisions_export_cli)
decisions.command("import", epilog="Example: nerqa decisions import train.tsv audit label-studio-export.json")(
    decisions_import_cli
)

compare = add_group("compare", "Before and after: two models, or two audits.")
compare.command("models", epilog="Example: nerqa compare models model-before model-after test.tsv")(compare_models_cli)
compare.command("audits", epilog="Example: nerqa compare audits audit audit-after")(compare_audits_cli)


def main() -> None:
    """The `nerqa` entry point. A reader that closes the pipe early (`nerqa stats | head`) is
    no error: exit 0, as `head` leaves the rest unread on purpose. nerqa's rich consoles exit 0
    themselves; click reports a closed pipe as exit 1 after swapping in its flush wrapper (by
    name: importing the class is deprecated), which is how it is recognised here."""
    import sys

    try:
        app()
    except SystemExit as exit:
        if exit.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(0)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
