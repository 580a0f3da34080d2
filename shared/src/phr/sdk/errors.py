"""Errors every SDK client raises: a service's RFC 9457 answer, or no answer at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ApiError(Exception):
    """A service refused or failed a call; ``problem`` is its problem+json body."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {problem.get('title', 'error')}: {self.detail}")

    @property
    def retryable(self) -> bool:
        """A dependency was down: the same call may succeed later."""
        return self.status in (502, 503, 504) and self.slug != "segment-corrupted"


class Unreachable(Exception):
    """Nothing answers at a service's address (is the system running?)."""


def problem_body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"title": resp.reason_phrase, "detail": resp.text[:200]}
    cid = resp.headers.get("x-correlation-id")
    if cid and "correlation_id" not in body:
        body["correlation_id"] = cid  # to quote to an operator (the services log it)
    return body


def raise_for_problem(resp: httpx.Response, ok: tuple[int, ...] = (200,)) -> httpx.Response:
    if resp.status_code not in ok:
        raise ApiError(resp.status_code, problem_body(resp))
    return resp
