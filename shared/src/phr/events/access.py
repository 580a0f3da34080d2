"""Access events: requests, decisions and break-glass, produced by user-api and SRS nodes."""

from __future__ import annotations

from pydantic import Field

from phr.events.base import EventData


class AccessRequested(EventData):
    request_id: str
    patient_id: str
    record_id: str
    segments: list[str]
    requester_id: str


class AccessGranted(EventData):
    request_id: str
    patient_id: str
    record_id: str
    segment: str
    requester_id: str
    grant_id: str
    node_id: str


class AccessDenied(EventData):
    request_id: str
    patient_id: str
    record_id: str
    segment: str
    requester_id: str
    node_id: str
    reason: str


class AccessBreakglass(EventData):
    """Emergency access opened without a grant to the requester; always flagged for review."""

    request_id: str
    patient_id: str
    record_id: str | None = None
    requester_id: str
    segments: list[str]
    reason: str = Field(min_length=1)
    expires_in_s: int = Field(gt=0)
    node_id: str | None = None
