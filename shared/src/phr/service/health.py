"""Liveness and readiness: ``/healthz`` (process alive), ``/readyz`` (dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phr.service.problems import PROBLEM_BASE, PROBLEM_JSON, problem_responses
from phr.service.state import app_state

#: a named check: raises (or times out) when the dependency does not answer
ReadinessCheck = Callable[[float], Awaitable[None]]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Every dependency answers",
    responses=problem_responses(503, descriptions={503: "A dependency is down"}),
)
async def readyz(request: Request) -> JSONResponse:
    state = app_state(request)
    checks, timeout = state.checks, state.readiness_timeout_s

    async def run(check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(timeout), timeout)
            return "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            return f"down: {type(exc).__name__}"

    results = await asyncio.gather(*(run(c) for c in checks.values()))
    status = dict(zip(checks, results, strict=True))
    down = sorted(name for name, state in status.items() if state != "ok")
    if not down:
        return JSONResponse({"status": "ready", "checks": status})
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
