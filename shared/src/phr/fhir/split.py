"""Split a Bundle into segment payloads and merge granted payloads back into a Bundle.

A segment payload (the plaintext that gets encrypted) is JSON::

    {"format": "phr-fhir-segment", "version": 1, "segment": "labs",
     "bundle_type": "transaction", "entries": [{"index": 3, "entry": {...}}, ...]}

``index`` is the entry's position in the source Bundle, so merging every segment
gives back the source entries in their order; merging some gives a Bundle of those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from phr.fhir.segments import Segment, segment_for
from phr.fhir.validate import FhirValidationError, validate_bundle

PAYLOAD_FORMAT = "phr-fhir-segment"


def split_bundle(bundle: dict[str, Any], *, validate: bool = True) -> dict[Segment, dict[str, Any]]:
    """Segment name -> payload, for the segments that have at least one resource."""
    if validate:
        validate_bundle(bundle)
    btype = bundle.get("type", "collection")
    out: dict[Segment, dict[str, Any]] = {}
    for index, entry in enumerate(bundle.get("entry", [])):
        seg = segment_for(entry["resource"]["resourceType"])
        payload = out.get(seg)
        if payload is None:
            payload = out[seg] = {
                "format": PAYLOAD_FORMAT,
                "version": 1,
                "segment": seg.value,
                "bundle_type": btype,
                "entries": [],
            }
        payload["entries"].append({"index": index, "entry": entry})
    return out


def payload_to_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def payload_from_bytes(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise FhirValidationError("segment payload is not JSON") from exc
    if not isinstance(payload, dict) or payload.get("format") != PAYLOAD_FORMAT:
        raise FhirValidationError("not a FHIR segment payload")
    if payload.get("version") != 1:
        raise FhirValidationError(f"unsupported segment payload version {payload.get('version')}")
    return payload


def merge_segments(
    payloads: Iterable[dict[str, Any]], *, bundle_id: str | None = None, validate: bool = True
) -> dict[str, Any]:
    """A Bundle holding the entries of the given segment payloads, in source order."""
    entries: list[tuple[int, dict[str, Any]]] = []
    types: set[str] = set()
    for payload in payloads:
        types.add(payload["bundle_type"])
        entries.extend((e["index"], e["entry"]) for e in payload["entries"])
    entries.sort(key=lambda pair: pair[0])
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": types.pop() if len(types) == 1 else "collection",
    }
    if bundle_id is not None:
        # FHIR ids allow [A-Za-z0-9-.]{1,64}: our record ids ("r_…") are mapped onto that.
        bundle["id"] = re.sub(r"[^A-Za-z0-9\-.]", "-", bundle_id)[:64]
    if bundle["type"] == "collection":
        # A collection carries no transaction instructions.
        entries = [
            (i, {k: v for k, v in e.items() if k not in ("request", "response")})
            for i, e in entries
        ]
    bundle["entry"] = [e for _, e in entries]
    if validate:
        validate_bundle(bundle)
    return bundle
