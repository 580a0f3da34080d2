"""Split a Bundle into segment payloads and merge granted payloads back into a Bundle.

A segment payload (the plaintext that gets encrypted) is JSON::

    {"format": "phr-fhir-segment", "version": 1, "segment": "labs",
     "bundle_type": "transaction", "entries": [{"index": 3, "entry": {...}}, ...]}

``index`` is the entry's position in the source Bundle, so merging every segment
gives back the source entries in their order; merging some gives a Bundle of those.

The payload bytes are written and read with orjson (a 2 MB segment: ~2 ms to write
instead of ~20, ~7 ms to read instead of ~12). Decoded, they equal what the standard
library writes and reads, which wrote the payloads of older ciphertexts; where orjson
would differ (non-finite floats, integers beyond 64 bits, lone surrogates, keys that
are not strings, types that are not plain JSON) the standard library is used, so the
decoded payload is the same either way. The plaintext is never signed nor used as
associated data, so its exact bytes (float spelling) may differ from the old ones.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import orjson

from phr.fhir.segments import Segment, segment_for
from phr.fhir.validate import FhirValidationError, validate_bundle

PAYLOAD_FORMAT = "phr-fhir-segment"

#: Anything but plain JSON types is left to the standard library (and its errors).
_DUMPS_OPTIONS: Final = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
#: digits -> "0", every other byte -> "."; then a run of 19 zeros is a run of 19 digits
_DIGITS: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_LONG_RUN: Final = b"0" * 19
#: bytes that can precede the integer part of a JSON number token
_NUMBER_START: Final = frozenset(b"-:[, \t\r\n")


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
    """Compact UTF-8 JSON of a payload (decodes to ``payload``, as the old writer's did)."""
    try:
        out = orjson.dumps(payload, option=_DUMPS_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError too: not plain JSON, let json decide
        return _json_dumps(payload)
    if b"null" in out:
        # orjson writes NaN and infinities as null; json writes NaN/Infinity, read back
        # as such. Rare (FHIR has no nulls but in primitive-extension arrays): be exact.
        return _json_dumps(payload)
    return out


def _json_dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _may_hold_big_int(raw: bytes) -> bool:
    """Whether ``raw`` may hold an integer beyond 64 bits (orjson reads those as floats).

    Looks for runs of 19+ digits that could start a number token (after ``-``, ``:``,
    ``[``, ``,`` or whitespace); runs after ``.``, a letter or a quote (UIDs, decimals,
    identifiers in strings) are not integers. Errs on the side of yes.
    """
    marked = raw.translate(_DIGITS)
    at = marked.find(_LONG_RUN)
    while at >= 0:
        if at == 0 or raw[at - 1] in _NUMBER_START:
            return True
        end = marked.find(b".", at)
        if end < 0:
            return False
        at = marked.find(_LONG_RUN, end)
    return False


#: documents from this size on are parsed with the cyclic garbage collector paused
GC_PAUSE_BYTES: Final = 64 * 1024


@contextmanager
def _gc_paused(size: int) -> Iterator[None]:
    """Pause the cyclic GC while a large JSON document is parsed.

    Parsing 2 MB of FHIR makes ~100k containers; each 700 allocations start a
    collection, and the survivors soon trigger full ones that walk the whole heap
    (a 2 MB read then costs 15 ms of CPU at the median and 65 on average in a process
    holding a few such Bundles, 10 ms with the GC paused). Parsed JSON holds no
    reference cycles, so those collections can free nothing of it. The GC is left
    as found: re-enabled only if it was enabled.
    """
    if size < GC_PAUSE_BYTES or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def read_json(raw: bytes | str) -> Any:
    """``json.loads(raw)``, faster: orjson where it reads exactly what json reads."""
    with _gc_paused(len(raw)):
        if not _may_hold_big_int(
            raw.encode(errors="surrogatepass") if isinstance(raw, str) else raw
        ):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass  # NaN/Infinity, huge exponents, lone surrogates: json reads those
        return json.loads(raw)


def payload_from_bytes(raw: bytes) -> dict[str, Any]:
    try:
        payload = read_json(raw)
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
