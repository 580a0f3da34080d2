"""The `phr` command. Each command group lives in its own module and registers here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="phr",
    help="PHR Exchange from a terminal: keys, records, grants, access, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


from phr.cli import events as _events  # noqa: E402
from phr.cli import ledger as _ledger  # noqa: E402

app.add_typer(_events.app, name="events")
app.add_typer(_ledger.app, name="ledger")


@app.callback()
def _root() -> None:
    """PHR Exchange from a terminal: keys, records, grants, access, audit."""


def main() -> None:
    app()


@app.command()
def version() -> None:
    """Print the version of the phr package.

    Example: uv run phr version
    """
    from importlib.metadata import version as pkg_version

    typer.echo(pkg_version("phr"))
