"""The `tunesmith` command: the commands of `commands/`, assembled. No logic of its own."""

from __future__ import annotations

import sys

import typer

from .commands import check, corpus, evaluate, finetune, generate, infill, package, render, serve, train, vary, visualize
from .commands.runtime import err
from .errors import TunesmithError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Learn music as a sequence of symbols and compose new music.")
app.add_typer(corpus.app, name="corpus")
for command in (train.train, finetune.finetune, generate.generate, infill.infill, vary.vary, check.check, package.package, render.render,
                serve.serve, visualize.visualize, evaluate.evaluate):
    app.command()(command)


def main() -> None:
    """Entry point: user errors print one line and exit 2, without a traceback."""
    try:
        app()
    except TunesmithError as exc:
        err(f"error: {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
