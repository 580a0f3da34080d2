"""Processes of a one-machine stack: pid files, spawning, stopping, waiting.

Each process is known by name: its pid lives in ``run/<name>.pid`` and its output in
``logs/<name>.log``. A pid whose process ended, became a zombie or belongs to someone
else counts as not running, so a stale pid file never blocks a start.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from deploy.local.profiles import HOST, ROOT

#: children started by this interpreter; kept so a live child's Popen is never collected
#: (that warns with a ResourceWarning), reaped once they end
_CHILDREN: list[subprocess.Popen[bytes]] = []


class Processes:
    """The named processes whose pid files live in ``run_dir``."""

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The pid of ``name`` if it runs, else None."""
        try:
            pid = int(self.pidfile(name).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A zombie or a reused pid of something else is not ours.
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.split(")")[-1].split()[0] == "Z":
                return None
        except OSError:
            return None
        return pid

    def ensure_dirs(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Start ``argv`` in its own session (unless ``name`` runs), output to its log."""
        if self.pid(name):
            return
        self.ensure_dirs()
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        _CHILDREN.append(proc)
        self.pidfile(name).write_text(str(proc.pid))

    def stop(self, name: str, timeout: float = 15, group: bool = True) -> None:
        """SIGTERM (its process group if ``group``), SIGKILL after ``timeout``."""
        pid = self.pid(name)
        if pid is None:
            self.pidfile(name).unlink(missing_ok=True)
            return
        try:
            os.killpg(pid, signal.SIGTERM) if group else os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid(name):
            time.sleep(0.05)
        if self.pid(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.pidfile(name).unlink(missing_ok=True)
        reap_children()

    def tail(self, name: str, lines: int = 15) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text().splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])


def reap_children() -> None:
    """Collect the exit status of children that ended (stopped here or killed by a test)."""
    for proc in list(_CHILDREN):
        if proc.poll() is not None:
            _CHILDREN.remove(proc)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def wait(
    what: str, check: Callable[[], bool], timeout: float, on_fail: Callable[[], str] | None = None
) -> None:
    """Poll ``check`` until it holds; SystemExit naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    detail = on_fail() if on_fail else ""
    raise SystemExit(f"{what} not ready after {timeout:.0f} s\n{detail}")


def say(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)
