"""Liveness and readiness: ``/healthz`` (process alive), ``/readyz`` (dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phr.service.problems import PROBLEM_BASE, PROBLEM_JSON, problem_responses
from phr.service.state import app_state

#: a named check: raises (or times out) when the dependency does not answer; it may
#: return details (e.g. a consumer's lag), shown under its name in ``details``
ReadinessCheck = Callable[[float], Awaitable[Mapping[str, Any] | None]]

router = APIRouter(tags=["health"])

_READY: Final = {
    "type": "object",
    "required": ["status", "checks", "details"],
    "properties": {
        "status": {"const": "ready"},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        "details": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}
_READY_EXAMPLE: Final = {
    "status": "ready",
    "checks": {"mongo": "ok", "kafka": "ok", "consumer:owner-api": "ok"},
    "details": {"consumer:owner-api": {"lag": 0}},
}


@router.get(
    "/healthz",
    summary="The process is alive",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Every dependency answers",
    responses={
        200: {
            "description": "Every check answered (a consumer's lag, if any, in details)",
            "content": {"application/json": {"schema": _READY, "example": _READY_EXAMPLE}},
        },
        **problem_responses(503, descriptions={503: "A dependency is down"}),
    },
)
async def readyz(request: Request) -> JSONResponse:
    state = app_state(request)
    checks, timeout = state.checks, state.readiness_timeout_s

    details: dict[str, Mapping[str, Any]] = {}

    async def run(name: str, check: ReadinessCheck) -> str:
        try:
            found = await asyncio.wait_for(check(timeout), timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            return f"down: {type(exc).__name__}"
        if found:
            details[name] = dict(found)
        return "ok"

    results = await asyncio.gather(*(run(n, c) for n, c in checks.items()))
    status = dict(zip(checks, results, strict=True))
    down = sorted(name for name, state in status.items() if state != "ok")
    if not down:
        return JSONResponse({"status": "ready", "checks": status, "details": details})
    return JSONResponse(
        {
            "type": PROBLEM_BASE + "not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": "down: " + ", ".join(down),
            "instance": "/readyz",
            "checks": status,
        },
        status_code=503,
        media_type=PROBLEM_JSON,
    )
