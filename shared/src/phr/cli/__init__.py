"""The `phr` command. Each command group lives in its own module and registers here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phr.cli import access as _access
from phr.cli import admin as _admin
from phr.cli import demo as _demo
from phr.cli import identity as _identity
from phr.cli import records as _records
from phr.cli import sharing as _sharing
from phr.cli.home import Home
from phr.cli.session import Session

app = typer.Typer(
    name="phr",
    help="PHR Exchange from a terminal: keys, records, grants, access, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


from phr.cli import events as _events  # noqa: E402
from phr.cli import gateway as _gateway  # noqa: E402
from phr.cli import ledger as _ledger  # noqa: E402

app.add_typer(_events.app, name="events")
app.add_typer(_ledger.app, name="ledger")
_identity.register(app)
_records.register(app)
_sharing.register(app)
_access.register(app)
_demo.register(app)
_admin.register(app)
_gateway.register(app)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None, typer.Option(help="Identity directory (default: $PHR_HOME or ~/.phr)")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document")] = False,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="Read the passphrase from this file")
    ] = None,
    kgc: Annotated[str | None, typer.Option(help="KGC URL (default: $PHR_KGC_URL)")] = None,
) -> None:
    """PHR Exchange from a terminal: keys, records, grants, access, audit."""
    ctx.obj = Session(
        home=Home.resolve(home),
        as_json=json_output,
        passphrase_file=passphrase_file,
        kgc_url_option=kgc,
    )


def main() -> None:
    app()


@app.command()
def version() -> None:
    """Print the version of the phr package.

    Example: uv run phr version
    """
    from importlib.metadata import version as pkg_version

    typer.echo(pkg_version("phr"))
