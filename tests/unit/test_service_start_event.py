"""A service's start survives a broker's transient refusal of ``service.started``."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaError, UnknownError

from phr.events.system import ServiceStarted
from phr.service import app


class FlakyRuntime:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    async def emit(self, type: str, data: Any, *, subject: str) -> None:
        if self.failures:
            self.failures -= 1
            raise UnknownError()
        self.sent.append(type)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(app.asyncio, "sleep", sleep)
    return waits


STARTED = ServiceStarted(service="srs-1", instance="h:1", version="0")


async def test_retried_until_the_broker_takes_it(no_waiting: list[float]) -> None:
    runtime = FlakyRuntime(failures=2)
    await app._announce_start(runtime, "srs-1", STARTED)  # type: ignore[arg-type]
    assert runtime.sent == ["service.started"]
    assert no_waiting == [1.0, 2.0]


async def test_gives_up_after_the_last_attempt() -> None:
    runtime = FlakyRuntime(failures=app.START_ATTEMPTS)
    with pytest.raises(KafkaError):
        await app._announce_start(runtime, "srs-1", STARTED)  # type: ignore[arg-type]
    assert runtime.sent == []
