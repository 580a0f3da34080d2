"""The lifespan's typed state: what every request of a service may reach.

A service's ``setup`` returns its own state object (a dataclass of its use cases and
stores); the app factory wraps it in an :class:`AppState` with the readiness checks
and the authenticator, and yields it under one key. Dependencies read typed
attributes, so mypy sees the real types::

    state = service_state(KgcState)

    async def directory(s: Annotated[KgcState, Depends(state)]) -> Directory:
        return s.directory

A test builds the same app around an ``AppState`` of memory stores and fakes (see
``tests/support/asgi.py``): nothing connects to Mongo or Kafka.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from fastapi import Request

if TYPE_CHECKING:
    from phr.service.auth import Authenticator
    from phr.service.health import ReadinessCheck
    from phr.service.runtime import ServiceRuntime

S = TypeVar("S")
T = TypeVar("T")

#: the one ``request.state`` attribute the lifespan sets (Starlette copies the yielded
#: mapping onto every request's state)
STATE_KEY: Final = "app_state"


@dataclass
class AppState(Generic[S]):
    """What a service's lifespan yields; ``service`` is the service's own state."""

    service: S
    authenticator: Authenticator | None = None
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    readiness_timeout_s: float = 2.0
    #: the running clients (absent when a test serves memory stores)
    runtime: ServiceRuntime | None = None

    def lifespan_state(self) -> dict[str, Any]:
        return {STATE_KEY: self}


def app_state(request: Request) -> AppState[Any]:
    """The request's :class:`AppState`; a RuntimeError if no lifespan put one there."""
    state = getattr(request.state, STATE_KEY, None)
    if not isinstance(state, AppState):
        raise RuntimeError("no app state: the app's lifespan has not run")
    return state


def service_state(cls: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A dependency returning the service's own state, checked to be a ``cls``.

    Async on purpose: FastAPI runs sync dependencies in a thread pool.
    """

    async def get(request: Request) -> S:
        state = app_state(request).service
        if not isinstance(state, cls):
            raise RuntimeError(f"app state is a {type(state).__name__}, not a {cls.__name__}")
        return state

    get.__name__ = f"{cls.__name__.lower()}_state"
    return get


def state_part(cls: type[S], read: Callable[[S], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency returning one typed part of the service's state::

    DirectoryDep = Annotated[Directory, Depends(state_part(KgcState, lambda s: s.directory))]
    """
    get_state = service_state(cls)

    async def get(request: Request) -> T:
        return read(await get_state(request))

    get.__name__ = f"{cls.__name__.lower()}_part"
    return get
