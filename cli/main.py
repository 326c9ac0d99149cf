"""The `nerqa` command: one small module per subcommand, wired here."""

from __future__ import annotations

import typer

from nerqa_cli.audit import audit_cli
from nerqa_cli.convert import convert_cli
from nerqa_cli.evaluate import evaluate_cli
from nerqa_cli.predict import predict_cli
from nerqa_cli.stats import stats_cli
from nerqa_cli.train import train_cli

app = typer.Typer(
    name="nerqa",
    help="Data-centric quality assurance for named-entity corpora.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("convert")(convert_cli)
app.command("stats")(stats_cli)
app.command("train")(train_cli)
app.command("evaluate")(evaluate_cli)
app.command("predict")(predict_cli)
app.command("audit")(audit_cli)

if __name__ == "__main__":  # pragma: no cover
    app()
