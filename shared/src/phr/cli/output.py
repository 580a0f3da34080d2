"""Human-readable output by default, one JSON document with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


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
    for line in lines:
        console.print(line, highlight=False)
    if table is not None:
        headers, rows = table
        t = Table(*headers, show_edge=False, header_style="bold")
        for row in rows:
            t.add_row(*("" if v is None else str(v) for v in row))
        console.print(t)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise SystemExit(code)
