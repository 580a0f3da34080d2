"""Operational events: service lifecycle and ledger block-cut markers."""

from __future__ import annotations

from pydantic import Field

from phr.events.base import EventData


class ServiceStarted(EventData):
    """A service instance came up; also the smallest end-to-end probe of the bus."""

    service: str
    instance: str
    version: str


class BlockCut(EventData):
    """In-stream marker: ledger replicas cut a block here (written by one elected producer)."""

    epoch: int = Field(ge=0)
    sequence: int = Field(ge=0)
