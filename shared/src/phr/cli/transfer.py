"""Progress on stderr for people: a spinner while waiting, a byte bar for big transfers.

The byte bar (bytes done and total in KiB/MiB, rate, time left) replaces the spinner
for a transfer of at least :data:`BAR_MIN_BYTES`; nothing is shown with ``--json``.
Both disappear when done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from phr.cli.output import err_console

#: "over a few MB": below this a transfer is over before a bar would tell anything
BAR_MIN_BYTES = 4 * 1024 * 1024


class Transfer:
    """One command's progress display: a spinner, replaced by a byte bar by :meth:`bytes`."""

    def __init__(self, what: str, stack: ExitStack | None) -> None:
        self.what = what
        self._stack = stack
        self._spinner: Progress | None = None
        if stack is not None:
            self._spinner = stack.enter_context(
                Progress(
                    SpinnerColumn(),
                    TextColumn(what),
                    TimeElapsedColumn(),
                    console=err_console,
                    transient=True,
                )
            )
            self._spinner.add_task(what, total=None)

    def bytes(self, total: int) -> Callable[[int], None]:
        """Show a byte bar of ``total`` bytes (if big enough); returns its advance function."""
        if self._stack is None or self._spinner is None or total < BAR_MIN_BYTES:
            return _ignore
        self._spinner.stop()
        bar = self._stack.enter_context(
            Progress(
                TextColumn(self.what),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            )
        )
        task = bar.add_task(self.what, total=total)
        return lambda n: bar.update(task, advance=n)


def _ignore(_: int) -> None:
    return None


@contextmanager
def transfer(what: str, *, quiet: bool) -> Iterator[Transfer]:
    """A spinner on stderr while the block runs (nothing when ``quiet``)."""
    if quiet:
        yield Transfer(what, None)
        return
    with ExitStack() as stack:
        yield Transfer(what, stack)
