"""AsyncAPI 3.0 document of every topic, header and event type, generated from the catalog.

uv run python -m phr.events.asyncapi > docs/asyncapi.json   (or `make snapshots`)

What it declares is what is on the wire, and nothing else (an e2e test compares it with
a stream captured from the running system): the event topics, each event type on the
topic the catalog names, as a structured-mode CloudEvent (content type
``application/cloudevents+json``, that one header, the subject as the key); the ledger's
sequence topic with the relayed copies (plus the ``phr-origin`` header) and the
ledger's block-cut markers; the dead-letter topic with the refused bytes and the
reason headers. A (type, version) the catalog marks as no longer produced stays a
message of its channel (old events of it may remain there, and readers take them) but
no ``send`` operation names it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from phr.events.catalog import (
    _SPECS,
    DEADLETTER_HEADERS,
    LEDGER_TOPICS,
    ORIGIN_HEADER,
    TOPIC_DEADLETTER,
    TOPIC_LEDGER_SEQUENCE,
    TOPICS,
    EventSpec,
)
from phr.events.envelope import CLOUDEVENTS_JSON, dataschema_uri
from phr.events.schemas import envelope_schema

KAFKA_BINDING_VERSION = "0.5.0"
DEADLETTER_MESSAGE = "deadletter_record"
RETIRED = (
    "No longer produced: events of it written by earlier versions may remain on the "
    "topic, and readers still take them (upcast to the newest version of the type)."
)
_TEXT = {"type": "string"}


def message_name(type: str, version: int) -> str:
    return f"{type.replace('.', '_')}_v{version}"


def relayed_name(type: str, version: int) -> str:
    """The message of a relayed copy on the sequence topic (the same event, one header more)."""
    return message_name(type, version) + "_relayed"


def _headers(extra: dict[str, Any]) -> dict[str, Any]:
    properties = {"content-type": {"const": CLOUDEVENTS_JSON}} | extra
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }


def _event_message(spec: EventSpec, headers: dict[str, Any], how: str) -> dict[str, Any]:
    name = message_name(spec.type, spec.version)
    retired = {} if spec.produced else {"description": RETIRED}
    return retired | {
        "name": spec.type,
        "title": f"{spec.type} v{spec.version}{how}",
        "summary": spec.summary,
        "contentType": CLOUDEVENTS_JSON,
        "headers": headers,
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": spec.type},
                        "schemaversion": {"const": spec.version},
                        "dataschema": {"const": dataschema_uri(spec.type, spec.version)},
                        "data": {"$ref": f"#/components/schemas/{name}_data"},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the event's subject"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _deadletter_message() -> dict[str, Any]:
    return {
        "name": "deadletter",
        "title": "A record the ledger refused",
        "summary": "The refused record's value, unchanged (any bytes), and why",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "properties": {k: _TEXT | {"description": v} for k, v in DEADLETTER_HEADERS.items()},
            "required": sorted(DEADLETTER_HEADERS),
            "additionalProperties": False,
        },
        "payload": {"type": "string", "description": "the refused bytes"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "its offset on the sequence topic"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel_messages() -> dict[str, list[tuple[str, bool]]]:
    """Topic -> (name, still produced) of each message that travels on it."""
    on: dict[str, list[tuple[str, bool]]] = {topic: [] for topic in [*TOPICS, *LEDGER_TOPICS]}
    for spec in _SPECS:
        on[spec.topic].append((message_name(spec.type, spec.version), spec.produced))
        if spec.topic in TOPICS:  # the relay copies every record of the event topics
            relayed = relayed_name(spec.type, spec.version)
            on[TOPIC_LEDGER_SEQUENCE].append((relayed, spec.produced))
    on[TOPIC_DEADLETTER].append((DEADLETTER_MESSAGE, True))
    return on


def build_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document as a JSON-compatible dict (deterministic)."""
    schemas: dict[str, Any] = {"Envelope": envelope_schema()}
    messages: dict[str, Any] = {DEADLETTER_MESSAGE: _deadletter_message()}
    origin = _TEXT | {
        "pattern": "^[a-z.]+/[0-9]+/[0-9]+$",
        "description": "topic/partition/offset of the record this is a copy of",
    }
    for spec in _SPECS:
        name = message_name(spec.type, spec.version)
        data_schema = spec.model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in data_schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[name + "_data"] = data_schema
        messages[name] = _event_message(spec, _headers({}), "")
        if spec.topic in TOPICS:
            relayed = _event_message(spec, _headers({ORIGIN_HEADER: origin}), ", relayed")
            messages[relayed_name(spec.type, spec.version)] = relayed
    descriptions = TOPICS | LEDGER_TOPICS
    retired = [f"`{s.type}` v{s.version}" for s in _SPECS if not s.produced]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, names in _channel_messages().items():
        channels[topic] = {
            "address": topic,
            "description": descriptions[topic],
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n, _ in names},
        }
        operations["send_" + topic.replace(".", "_")] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [
                {"$ref": f"#/channels/{topic}/messages/{n}"} for n, produced in names if produced
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "PHR Exchange events",
            "version": "2.0.0",
            "description": (
                "Every event is a CloudEvent 1.0 in the structured content mode of the Kafka "
                "protocol binding (docs/events.md), signed with its producer's Ed25519 key "
                "(signature over the RFC 8785 canonical JSON of the whole event but "
                "`signature`). Delivery is at least once; consumers are idempotent by `id`. "
                "Events written before the CloudEvents names (`schema_version`, "
                "`correlation_id`, `causation_id`) may remain on topics; readers upcast them. "
                "So may events of the types no longer produced (" + ", ".join(retired) + "): "
                "their channels list them, no send operation does."
            ),
            "license": {"name": "GPL-3.0-or-later"},
        },
        "defaultContentType": CLOUDEVENTS_JSON,
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "make run"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
