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


class SegmentGranted(EventData):
    segment: str
    grant_id: str
    #: served under an emergency grant (the request's ``access.breakglass`` says why)
    breakglass: bool = False


class SegmentRefused(EventData):
    segment: str
    reason: str


class AccessDecided(EventData):
    """One SRS node's decision on one access request, every segment asked for in it."""

    request_id: str
    patient_id: str
    record_id: str
    requester_id: str
    node_id: str
    granted: list[SegmentGranted]
    denied: list[SegmentRefused]


class AccessGranted(EventData):
    """Before ``access.decided``: one segment re-encrypted (kept to read old events)."""

    request_id: str
    patient_id: str
    record_id: str
    segment: str
    requester_id: str
    grant_id: str
    node_id: str


class AccessDenied(EventData):
    """Before ``access.decided``: one segment refused (kept to read old events)."""

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
