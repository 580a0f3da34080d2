"""The two kinds of body: what a caller sends (strict) and what a service answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class In(BaseModel):
    """A request body: an unknown field is refused (422), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response body: frozen; a reader ignores fields added after it was built."""

    model_config = ConfigDict(frozen=True, extra="ignore")
