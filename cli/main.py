"""The `nerqa` command: one small module per subcommand, wired here.

Commands register in `COMMANDS`; a family of related subcommands goes into a group (a
`typer.Typer` of its own, added with `add_group`), as spaCy's `debug` and `init` are.
"""

from __future__ import annotations

import typer

from nerqa_cli.audit import audit_cli
from nerqa_cli.compare import compare_audits_cli, compare_models_cli
from nerqa_cli.convert import convert_cli
from nerqa_cli.evaluate import evaluate_cli
from nerqa_cli.predict import predict_cli
from nerqa_cli.relabel import apply_cli, relabel_cli
from nerqa_cli.select import select_cli
from nerqa_cli.stats import stats_cli
from nerqa_cli.train import train_cli

app = typer.Typer(
    name="nerqa",
    help="Data-centric quality assurance for named-entity corpora.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

COMMANDS = {
    "convert": convert_cli,
    "stats": stats_cli,
    "train": train_cli,
    "evaluate": evaluate_cli,
    "predict": predict_cli,
    "audit": audit_cli,
    "relabel": relabel_cli,
    "apply": apply_cli,
    "select": select_cli,
}
for _name, _command in COMMANDS.items():
    app.command(_name)(_command)


def add_group(name: str, help: str) -> typer.Typer:
    """A command group `nerqa NAME ...`; register its subcommands with `group.command(...)`."""
    group = typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
    app.add_typer(group, name=name)
    return group


compare = add_group("compare", "Before and after: two models on one held-out corpus, or an audit and its re-audit.")
compare.command("models")(compare_models_cli)
compare.command("audits")(compare_audits_cli)

if __name__ == "__main__":  # pragma: no cover
    app()
