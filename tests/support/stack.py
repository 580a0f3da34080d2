"""The local stack (the deploy.local package) as a test fixture: own ports, own data dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import deploy.local


def stack_module() -> ModuleType:
    """The deploy.local package (Stack, Profile, profile, SERVICES, service_specs)."""
    return deploy.local


def test_stack(extra_offset: int = 0) -> Any:
    """The `test` profile (PHR_PORT_OFFSET moves it for parallel runs).

    ``extra_offset`` gives a second, independent stack (own ports and data) for tests
    that must start from an empty deployment.
    """
    return deploy.local.Stack(
        deploy.local.profile(os.environ.get("PHR_TEST_PROFILE", "test"), extra_offset)
    )


test_stack.__test__ = False  # type: ignore[attr-defined]

#: the test session's OTLP receiver: 4318 (OTLP/HTTP's port) + 5000 like the test
#: profile's ports, moved by PHR_PORT_OFFSET (below 32768, apart from every stack's ports)
OTLP_TEST_PORT = 9318


def otlp_port() -> int:
    return OTLP_TEST_PORT + int(os.environ.get("PHR_PORT_OFFSET") or 0)


@contextmanager
def fresh_stack(extra_offset: int, start: bool = True) -> Iterator[Any]:
    """A test stack of its own, wiped before and after; started (servers and services)."""
    s = test_stack(extra_offset)
    s.reset()
    try:
        if start:
            s.up()
        yield s
    finally:
        s.reset()
