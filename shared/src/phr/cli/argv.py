"""Global options anywhere on the command line, as gh and kubectl take them.

``phr whoami --json`` and ``phr --json whoami`` are the same command: before click
parses anything, the global options (and their values) are moved in front of the
command path, where the root callback declares them. ``--`` ends the scan: what follows
is passed through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: global options without a value
FLAGS = frozenset({"--json", "--debug"})
#: global options that take one value (``--home DIR`` or ``--home=DIR``)
VALUED = frozenset({"--home", "--passphrase-file", "--kgc"})


@dataclass(frozen=True)
class Argv:
    """The arguments with the global options in front, and the two output switches."""

    args: list[str]
    as_json: bool
    debug: bool


def hoist_global_options(argv: Sequence[str]) -> Argv:
    """Move every global option (with its value) before the command path."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in FLAGS:
            front.append(arg)
        elif name in VALUED and "=" in arg:
            front.append(arg)
        elif arg in VALUED and i + 1 < len(argv):
            front += [arg, argv[i + 1]]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return Argv(front + rest, as_json="--json" in front, debug="--debug" in front)
