"""The orjson paths of phr.fhir.split and the iterative keyword walk equal the old code.

The references below are the implementations they replaced (standard-library JSON, a
recursive walk), kept here verbatim so that any difference shows up.
"""

from __future__ import annotations

import gc
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phr.client.access import decrypt_record
from phr.client.record import OwnerKeys, encrypt_record
from phr.crypto.keys import PatientMasterKey
from phr.crypto.manifest import RecordManifest, SegmentEntry, sign_manifest
from phr.crypto.pre import encapsulate
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import SigningKey
from phr.crypto.stream import SegmentContext, encrypt_segment_bytes
from phr.fhir.keywords import code_keyword, extract_keywords, words
from phr.fhir.split import (
    GC_PAUSE_BYTES,
    PAYLOAD_FORMAT,
    payload_from_bytes,
    payload_to_bytes,
    read_json,
    split_bundle,
)
from phr.fhir.synthetic import load_bundle

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "synthea_r4_seed42.json.gz"


# ----------------------------------------------------------------- the old code


def old_payload_to_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _old_walk(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        system, code = node.get("system"), node.get("code")
        if isinstance(system, str) and isinstance(code, str):
            out.add(code_keyword(system, code))
        for key, value in node.items():
            if key in ("display", "text") and isinstance(value, str):
                out.update(words(value))
            elif key not in ("data", "div"):
                _old_walk(value, out)
    elif isinstance(node, list):
        for item in node:
            _old_walk(item, out)


def old_extract_keywords(resources: list[Any]) -> set[str]:
    out: set[str] = set()
    for resource in resources:
        _old_walk(resource, out)
    return out


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types (NaN equals NaN, -0.0 differs from 0.0, 1 from 1.0)."""
    return repr(a) == repr(b)


# ----------------------------------------------------------------- strategies

_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_digits = st.from_regex(r"\A-?[0-9]{15,25}(\.[0-9]{1,30})?\Z")
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.integers(min_value=2**63 - 5, max_value=2**64 + 5)
    | st.integers(min_value=-(2**63) - 5, max_value=-(2**63) + 5)
    | st.floats()  # NaN and infinities too
    | _text
    | _digits  # long digit runs inside strings
)
_keys = st.sampled_from(["system", "code", "display", "text", "data", "div", "coding", "x"])
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys | _text, inner, max_size=5),
    max_leaves=25,
)


def payload_of(entries: list[Any]) -> dict[str, Any]:
    return {
        "format": PAYLOAD_FORMAT,
        "version": 1,
        "segment": "labs",
        "bundle_type": "collection",
        "entries": [{"index": i, "entry": e} for i, e in enumerate(entries)],
    }


# ----------------------------------------------------------------- properties


@given(st.lists(_json, max_size=4))
def test_payload_bytes_decode_like_the_old_ones(entries: list[Any]) -> None:
    payload = payload_of(entries)
    new = payload_to_bytes(payload)
    old = old_payload_to_bytes(payload)
    # Both decoders read both writers' bytes to the same value, the payload itself.
    assert same(payload_from_bytes(new), payload)
    assert same(payload_from_bytes(old), payload)
    assert same(json.loads(new), payload)


@given(_json, st.sampled_from([None, 0, 2]))
def test_read_json_reads_what_json_reads(value: Any, indent: int | None) -> None:
    raw = json.dumps(value, indent=indent, ensure_ascii=False)
    assert same(read_json(raw.encode()), json.loads(raw))
    assert same(read_json(raw), json.loads(raw))


@given(st.binary(max_size=40) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "replace")))
def test_read_json_fails_where_json_fails(raw: bytes) -> None:
    try:
        expected = json.loads(raw)
    except ValueError:
        with pytest.raises(ValueError):
            read_json(raw)
        return
    assert same(read_json(raw), expected)


@pytest.mark.parametrize(
    "raw",
    [
        b"[18446744073709551616]",
        b'{"a": -9223372036854775809}',
        b"[1,\n123456789012345678901234567890]",
        b"NaN",
        b'{"v": [Infinity, -Infinity]}',
        b"[1E400]",
        b'"\\ud800"',
        '{"a": 1}'.encode("utf-16"),
        b'{"uid": "2.25.247957360461229730093367672499684906483", "n": 1}',
    ],
)
def test_read_json_edge_cases(raw: bytes) -> None:
    assert same(read_json(raw), json.loads(raw))


def test_payload_to_bytes_refuses_what_json_refuses() -> None:
    for bad in ({"s": "\ud800"}, {"t": {1, 2}}, {"o": object()}):
        with pytest.raises((TypeError, ValueError)):
            old_payload_to_bytes(payload_of([bad]))
        with pytest.raises((TypeError, ValueError)):
            payload_to_bytes(payload_of([bad]))
    # Keys that are not strings: json turns them into strings, and so do we.
    odd = payload_of([{1: "a", 2.5: "b", None: "c", False: "d"}])
    assert payload_to_bytes(odd) == old_payload_to_bytes(odd)
    assert math.isnan(
        payload_from_bytes(payload_to_bytes(payload_of([math.nan])))["entries"][0]["entry"]
    )


@settings(max_examples=300)
@given(st.lists(_json, max_size=5))
def test_keywords_equal_the_recursive_walk(resources: list[Any]) -> None:
    assert extract_keywords(resources) == old_extract_keywords(resources)


def test_keywords_and_payloads_of_the_synthea_fixture() -> None:
    bundle = load_bundle(FIXTURE)
    for payload in split_bundle(bundle, validate=False).values():
        resources = [e["entry"]["resource"] for e in payload["entries"]]
        assert extract_keywords(resources) == old_extract_keywords(resources)
        assert payload_to_bytes(payload) == old_payload_to_bytes(payload)  # plain JSON: same bytes
        assert payload_from_bytes(payload_to_bytes(payload)) == payload


# ----------------------------------------------------------------- old ciphertexts


def test_a_record_written_by_the_old_writer_still_decrypts() -> None:
    """Segment plaintext written with json.dumps (big integers, NaN, long UIDs) decrypts
    and merges to the same Bundle as before."""
    master = PatientMasterKey.generate()
    author = SigningKey.generate()
    entries = [
        {"resource": {"resourceType": "Observation", "id": "o1", "valueInteger": 2**70}},
        {
            "resource": {
                "resourceType": "Observation",
                "id": "o2",
                "valueQuantity": {"value": math.nan},
            }
        },
        {"resource": {"resourceType": "ImagingStudy", "id": "i1", "uid": "2.25." + "7" * 40}},
    ]
    payload = payload_of(entries)
    plaintext = old_payload_to_bytes(payload)
    secret = SegmentSecret.generate()
    ctx = SegmentContext("u_p", "r_old", "labs", 1)
    ciphertext, sha = encrypt_segment_bytes(secret.data_key, ctx, plaintext)
    entry = SegmentEntry(
        name="labs",
        key_version=1,
        capsule_version=1,
        chunk_size=1 << 20,
        plaintext_size=len(plaintext),
        size=len(ciphertext),
        sha256=sha.hex(),
        capsule=encapsulate(master.segment_public_key("labs", 1), secret).b64(),
        tag_count=0,
        resource_count=3,
    )
    manifest = RecordManifest(
        patient_id="u_p",
        record_id="r_old",
        created_at="2026-01-01T00:00:00+00:00",
        author=author.verify_key.b64(),
        segments=[entry],
    )
    bundle = decrypt_record(
        sign_manifest(manifest, author),
        secrets={"labs": secret},
        ciphertexts={"labs": [ciphertext]},
        validate=False,
    )
    assert same(bundle["entry"], entries)
    assert bundle["entry"][0]["resource"]["valueInteger"] == 2**70


def test_record_round_trip_from_json_text() -> None:
    master = PatientMasterKey.generate()
    author = SigningKey.generate()
    bundle = load_bundle(FIXTURE)
    record = encrypt_record(
        json.dumps(bundle).encode(),
        patient_id="u_p",
        record_id="r_1",
        keys=OwnerKeys(master),
        author=author,
        validate=False,
    )
    from phr.client.access import owner_secret

    secrets = {n: owner_secret(master, record.manifest.segment(n)) for n in record.segments}
    got = decrypt_record(
        record.signed_manifest,
        secrets=secrets,
        ciphertexts={n: [s.ciphertext] for n, s in record.segments.items()},
        validate=False,
    )
    assert got["entry"] == bundle["entry"]


# ----------------------------------------------------------------- the GC pause


def test_large_documents_parse_without_gc_runs_and_leave_the_gc_as_found() -> None:
    big = json.dumps([{"k": [i, {"v": str(i)}]} for i in range(20_000)]).encode()
    assert len(big) >= GC_PAUSE_BYTES
    runs: list[str] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            runs.append(phase)

    expected = json.loads(big)
    gc.collect()  # nothing owed from earlier allocations
    gc.callbacks.append(note)
    try:
        assert gc.isenabled()
        got = read_json(big)
        during = len(runs)
        assert got == expected
        assert gc.isenabled()
        gc.disable()
        try:
            assert read_json(big) == json.loads(big)
            assert not gc.isenabled()  # not re-enabled behind the caller's back
        finally:
            gc.enable()
        with pytest.raises(ValueError):
            read_json(big[:-1])  # fails (and falls back to json) with the GC paused
        assert gc.isenabled()
        runs.clear()
        json.loads(big)  # the same work with the GC running does collect
    finally:
        gc.callbacks.remove(note)
    # At most the one collection owed once the GC is back, against dozens while parsing.
    assert during <= 1
    assert len(runs) > 10
