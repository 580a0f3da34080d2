"""The `phr` command. Each command group lives in its own module and registers here.

Habits of gh and kubectl: global options (``--json``, ``--home``, ``--kgc``,
``--passphrase-file``, ``--debug``) before or after the subcommand, ``-h`` as
``--help``, and under ``--json`` every outcome is JSON on stdout, a failure included.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import typer.main
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from phr.cli import access as _access
from phr.cli import admin as _admin
from phr.cli import demo as _demo
from phr.cli import identity as _identity
from phr.cli import records as _records
from phr.cli import sharing as _sharing
from phr.cli.argv import hoist_global_options
from phr.cli.home import Home
from phr.cli.output import Mode, emit, fail
from phr.cli.session import Session, report_failure
from phr.telemetry import configure_tracing, flush_tracing

#: -h and --help everywhere (sub-commands inherit the root's help option names)
CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="phr",
    help="PHR Exchange from a terminal: keys, records, grants, access, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
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
    debug: Annotated[bool, typer.Option("--debug", help="Print a traceback on failure")] = False,
) -> None:
    """PHR Exchange from a terminal: keys, records, grants, access, audit.

    Global options go before or after the command: phr whoami --json
    """
    ctx.obj = Session(
        home=Home.resolve(home),
        as_json=json_output,
        passphrase_file=passphrase_file,
        kgc_url_option=kgc,
        debug=debug,
    )


def usage_error(exc: typer.TyperException) -> NoReturn:
    """A usage error as click shows it, or as a JSON error object under --json."""
    code = int(getattr(exc, "exit_code", 2))
    if type(exc).__name__ == "NoArgsIsHelpError":  # `phr` or `phr org` alone: the help
        if Mode.as_json:
            fail("no command given: phr -h lists them", code, kind="usage")
        exc.show()  # type: ignore[attr-defined]
        raise SystemExit(0)
    if Mode.as_json:
        fail(exc.format_message(), code, kind="usage")
    exc.show()  # type: ignore[attr-defined]
    raise SystemExit(code)


def _command_path(args: Sequence[str]) -> list[str]:
    """The command's words in ``args`` (``events dump``), option values left out."""
    group: Any = typer.main.get_command(app)
    path = []
    for arg in args:
        subs = getattr(group, "commands", None)
        if subs is None:
            break
        if arg in subs:
            path.append(arg)
            group = subs[arg]
    return path


@contextmanager
def command_span(args: Sequence[str]) -> Iterator[None]:
    """With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, the command is one span (``phr fetch``),
    exported when it ends; the SDK's requests carry its ``traceparent``. Off otherwise."""
    if not configure_tracing("phr-cli", batch=False):
        yield
        return
    name = " ".join(["phr", *_command_path(args)])
    try:
        with trace.get_tracer("phr.cli").start_as_current_span(name, kind=SpanKind.CLIENT):
            yield
    finally:
        flush_tracing()


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``phr`` on ``argv`` (default: the process's arguments)."""
    parsed = hoist_global_options(sys.argv[1:] if argv is None else argv)
    Mode.as_json, Mode.debug = parsed.as_json, parsed.debug
    if Mode.as_json:  # rich help prints as it renders: stdout must hold only JSON
        app.rich_markup_mode = None
    try:
        with command_span(parsed.args):
            code = app(args=parsed.args, prog_name="phr", standalone_mode=False)
    except typer.Abort:
        fail("aborted", 130)
    except typer.TyperException as exc:  # click's: a bad option, a missing argument...
        usage_error(exc)
    except Exception as exc:  # noqa: BLE001 - raised outside a command's run(): same report
        if Mode.debug:
            traceback.print_exc(file=sys.stderr)
        report_failure(exc)
    raise SystemExit(code if isinstance(code, int) else 0)


@app.command()
def version() -> None:
    """Print the version of the phr package.

    Example: uv run phr version
    """
    from importlib.metadata import version as pkg_version

    number = pkg_version("phr")
    emit({"version": number}, as_json=Mode.as_json, lines=[number])
