"""Human-readable output by default, one JSON document with --json (errors included).

To a terminal, tables are drawn with rich; to a pipe or a file (not a terminal), rows are
tab-separated lines with every value in full (ids are never cut), as gh prints them.
Under ``--json`` a failure is a JSON object on stdout (``{"error": {...}}``) and a
non-zero status; otherwise it is one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape, render
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class Mode:
    """How this invocation reports (set once by :func:`phr.cli.main` from the argv)."""

    as_json = False
    debug = False


def emit(
    data: Any,
    *,
    as_json: bool,
    lines: Sequence[str] = (),
    table: tuple[Sequence[str], Sequence[Sequence[Any]]] | None = None,
) -> None:
    """Print ``data`` as JSON, or the given lines/table for people."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    terminal = console.is_terminal
    for line in lines:
        if terminal:
            console.print(line, highlight=False)
        else:
            sys.stdout.write(render(line).plain + "\n")
    if table is None:
        return
    headers, rows = table
    if not terminal:
        for row in rows:
            sys.stdout.write("\t".join("" if v is None else str(v) for v in row) + "\n")
        return
    t = Table(*headers, show_edge=False, header_style="bold")
    for row in rows:
        t.add_row(*("" if v is None else escape(str(v)) for v in row))
    console.print(t)


def human_size(n: int) -> str:
    """Bytes in binary units: 512 B, 1.5 KiB, 12.0 MiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def fail(message: str, code: int = 1, **details: Any) -> NoReturn:
    """Report a failure (JSON on stdout under --json, else one line on stderr) and exit."""
    if Mode.as_json:
        error = {"message": message, "exit_code": code} | {
            k: v for k, v in details.items() if v is not None
        }
        sys.stdout.write(json.dumps({"error": error}, indent=2, default=str) + "\n")
    else:
        err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise SystemExit(code)
