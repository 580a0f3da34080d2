"""What every rebuild consumer (a service re-making its state from its own events) shares.

A well-signed event that is not of the catalog's shape is skipped, counted and logged,
never retried forever: that would hold up every later event of its partition.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from phr.events.catalog import parse_data
from phr.events.envelope import Envelope, EnvelopeInvalid

log = structlog.get_logger("phr.service.rebuild")


class CountsMalformed(Protocol):
    malformed: int


def catalog_data_or_skip(event: Envelope, stats: CountsMalformed) -> Any | None:
    """The event's data as its catalog model, or None (counted in ``stats.malformed``)."""
    try:
        return parse_data(event)
    except EnvelopeInvalid as exc:
        stats.malformed += 1
        log.warning("rebuild.malformed_event", event_type=event.type, reason=str(exc)[:200])
        return None
