"""Base class of every event's `data` model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """Frozen, closed: an unknown field is a producer bug, not something to pass along."""

    model_config = ConfigDict(frozen=True, extra="forbid")
