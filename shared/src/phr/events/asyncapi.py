"""AsyncAPI 3.0 document of every topic and event type, generated from the catalog.

uv run python -m phr.events.asyncapi > docs/asyncapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from phr.events.catalog import _SPECS, TOPICS
from phr.events.envelope import Envelope


def _message_name(type: str, version: int) -> str:
    return f"{type.replace('.', '_')}_v{version}"


def build_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document as a JSON-compatible dict (deterministic)."""
    envelope_schema = Envelope.model_json_schema()
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": envelope_schema}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, description in TOPICS.items():
        channels[topic] = {"address": topic, "description": description, "messages": {}}
    for spec in _SPECS:
        name = _message_name(spec.type, spec.version)
        data_schema = spec.model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in data_schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[name + "_data"] = data_schema
        messages[name] = {
            "name": spec.type,
            "title": f"{spec.type} v{spec.version}",
            "summary": spec.summary,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "ce_type": {"const": spec.type},
                    "ce_id": {"type": "string", "format": "uuid"},
                    "ce_source": {"type": "string"},
                    "ce_schema_version": {"const": str(spec.version)},
                },
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": spec.type},
                            "schema_version": {"const": spec.version},
                            "data": {"$ref": f"#/components/schemas/{name}_data"},
                        },
                    },
                ]
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": "envelope subject"}}},
        }
        channels[spec.topic]["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for topic in TOPICS:
        operations["publish_" + topic.replace(".", "_")] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [
                {"$ref": f"#/channels/{topic}/messages/{m}"} for m in channels[topic]["messages"]
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "PHR Exchange events",
            "version": "1.0.0",
            "description": (
                "Every event is a structured-mode CloudEvent signed with its producer's Ed25519 "
                "key (signature over the RFC 8785 canonical JSON of all fields but `signature`). "
                "Delivery is at least once; consumers are idempotent by `id`."
            ),
            "license": {"name": "GPL-3.0-or-later"},
        },
        "defaultContentType": "application/json",
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
