"""Fixtures shared by every tier. The e2e tier starts the real servers and services once.

Set PHR_E2E_REUSE=1 to keep a running test stack between runs (faster local loop).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.kgc_fixtures import (  # noqa: F401
    auditor_token,
    hospital,
    kgc,
    kgc_http,
    operator_token,
)
from tests.support.mongo_db import mongo_db  # noqa: F401
from tests.support.otlp import OtlpReceiver
from tests.support.stack import otlp_port, test_stack


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    """The session's trace collector: every process the e2e tier starts (services, the
    `phr` command) exports its spans here over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT,
    inherited). A fixed port per offset, so a stack kept with PHR_E2E_REUSE still finds it."""
    receiver = OtlpReceiver(otlp_port())
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # ms: spans arrive while a test waits
        yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def stack(otlp: OtlpReceiver) -> Iterator[Any]:
    """The test profile's servers and six services, running as real processes."""
    s = test_stack()
    reuse = os.environ.get("PHR_E2E_REUSE") == "1"
    if not reuse:
        s.reset()
    s.up()
    yield s
    if not reuse:
        s.down()


@pytest.fixture
def empty_stack() -> Iterator[Any]:
    """A deployment of its own (ports, data), empty at the start, servers only.

    For tests that replay a stream into an empty deployment; stopped and wiped after.
    """
    s = test_stack(extra_offset=100)
    s.reset()
    try:
        s.up(services=False)
        yield s
    finally:
        s.reset()


@pytest.fixture
def isolated_stack() -> Iterator[Any]:
    """A whole deployment of its own (servers and services), fresh, for disruptive tests
    (killing ledgers, floods of events) that must not load or disturb the session's."""
    s = test_stack(extra_offset=50)
    s.reset()
    try:
        s.up()
        yield s
    finally:
        s.reset()
