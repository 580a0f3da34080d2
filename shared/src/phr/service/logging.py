"""Structured logs: one ``configure_logging()`` for every service; JSON in production.

Event names are dotted past tense (``request.completed``). Never pass keys, plaintext or
capsules: the secret types of :mod:`phr.crypto` mask their repr, and the processor below
drops any field whose name says it is secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from phr.service.settings import LogSettings

_SECRET_WORDS = ("secret", "password", "passphrase", "private", "token", "seed", "kfrag")


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for name in list(event):
        if any(word in name.lower() for word in _SECRET_WORDS):
            event[name] = "<redacted>"
    return event


def _with_service(service: str) -> Any:
    """Name the service on every line, whichever task or thread logs it."""

    def add(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return add


class _Tee:
    """Write each log line to stdout and to a file."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def configure_logging(settings: LogSettings, service: str) -> None:
    """Set up structlog (and route stdlib logging through the same renderer)."""
    level = getattr(logging, settings.level)
    out: Any = sys.stdout
    if settings.file is not None:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        out = _Tee(sys.stdout, open(settings.file, "a", buffering=1))  # noqa: SIM115
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _with_service(service),
        _redact,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.WARNING))


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
