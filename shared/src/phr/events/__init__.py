"""Event envelope, catalog and data models: pure pydantic, no I/O."""

from phr.events.catalog import CATALOG, TOPICS, EventSpec, parse_data, spec_for
from phr.events.envelope import Envelope, EnvelopeInvalid, new_event

__all__ = [
    "CATALOG",
    "TOPICS",
    "Envelope",
    "EnvelopeInvalid",
    "EventSpec",
    "new_event",
    "parse_data",
    "spec_for",
]
