"""A Kafka record read by the official CloudEvents SDK, compared with our reading of it.

:func:`sdk_mismatches` reads a record's value with the SDK's Kafka binding in structured
content mode (``cloudevents.core.bindings.kafka.from_structured`` with a ``KafkaMessage``,
the strict reader: it refuses extension names that are not lowercase letters and digits)
and with its HTTP JSON reader (``cloudevents.v1.http.from_json``), and lists where either
differs from :class:`phr.events.envelope.Envelope` as :meth:`Envelope.from_json_bytes`
reads the same bytes. The SDK refusing the record raises.
"""

from __future__ import annotations

import json
from typing import Any

from cloudevents.core.bindings import kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.http import from_json

from phr.events.catalog import TOPIC_DEADLETTER
from phr.events.envelope import Envelope
from tests.support.event_stream import Seen


def sdk_reads(seen: Seen) -> CloudEvent:
    """The record as the official SDK's Kafka binding reads a structured-mode message."""
    message = kafka.KafkaMessage(headers=dict(seen.headers), key=seen.key, value=seen.value)
    event = kafka.from_structured(message, JSONFormat(), CloudEvent)
    assert isinstance(event, CloudEvent)
    return event


def sdk_mismatches(seen: Seen) -> list[str]:
    """Where the SDK's reading of ``seen`` differs from ours (empty: none)."""
    ours = Envelope.from_json_bytes(seen.value)
    wire = json.loads(seen.value)
    ce = sdk_reads(seen)
    key = seen.key.decode("utf-8", "replace") if seen.key is not None else None
    got: dict[str, Any] = {
        "id": ce.get_id(),
        "source": ce.get_source(),
        "type": ce.get_type(),
        "specversion": ce.get_specversion(),
        "subject": ce.get_subject(),
        "time": ce.get_time(),
        "datacontenttype": ce.get_datacontenttype(),
        "dataschema": ce.get_dataschema(),
        "schemaversion": ce.get_extension("schemaversion"),
        "correlationid": ce.get_extension("correlationid"),
        "causationid": ce.get_extension("causationid"),
        "traceparent": ce.get_extension("traceparent"),
        "partitionkey": ce.get_extension("partitionkey"),
        "data": ce.get_data(),
        "names": set(ce.get_attributes()),
    }
    want: dict[str, Any] = {
        "id": str(ours.id),
        "source": ours.source,
        "type": ours.type,
        "specversion": ours.specversion,
        "subject": ours.subject,
        "time": ours.time,
        "datacontenttype": ours.datacontenttype,
        "dataschema": ours.dataschema,
        "schemaversion": ours.schemaversion,
        "correlationid": ours.correlationid,
        "causationid": None if ours.causationid is None else str(ours.causationid),
        "traceparent": ours.traceparent,
        # the binding reads the record key as the partitionkey extension: ours is the
        # subject (a dead letter is keyed by the offset of the copy refused instead)
        "partitionkey": key if seen.topic == TOPIC_DEADLETTER else ours.subject,
        "data": ours.data,
        "names": (set(wire) - {"data"}) | {"partitionkey"},
    }
    # the SDK's HTTP JSON reader (the v1 API) takes the same bytes to the same attributes
    http_reading = from_json(seen.value)
    got["http"] = {n: http_reading[n] for n in http_reading.get_attributes()}
    want["http"] = {n: v for n, v in wire.items() if n != "data"}
    return [f"{k}: SDK {got[k]!r} != ours {want[k]!r}" for k in want if got[k] != want[k]]
