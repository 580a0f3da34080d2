"""The JSON Schema documents of event data, as committed under docs/schemas/.

Each is the data model's JSON Schema (draft 2020-12) with ``$id`` set to the event's
``dataschema`` URI, so the URI an event carries names exactly one committed file.
"""

from __future__ import annotations

import json
from typing import Any

from phr.events.catalog import EventSpec
from phr.events.envelope import Envelope, dataschema_uri

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_SCHEMA_ID = "urn:phr:schema:envelope"


def data_schema(spec: EventSpec) -> dict[str, Any]:
    """The JSON Schema of ``spec``'s data, identified by its ``dataschema`` URI."""
    schema = spec.model.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": dataschema_uri(spec.type, spec.version)} | schema


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope (current spelling)."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": ENVELOPE_SCHEMA_ID,
    } | Envelope.model_json_schema()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
