"""Realistic signed event streams for load tests of a consumer: no FHIR, metadata only.

``generate(patients=N, seed=S)`` writes the same bytes for the same arguments: keys,
ids, times and choices all come from the seed. The producers are throwaway: a KGC, the
services and three SRS nodes get Ed25519 keys derived from the seed, the KGC signs
system parameters naming them, and the capture's header carries those parameters, so
the stream verifies on its own (``phr events verify``) and a consumer under test can
trust exactly these keys (written beside the capture, never usable on a real system).

Each patient enrols, uploads one to three records of a few segments, is read by one
or two doctors (a request, then one decision per SRS node listing the segments), and
sometimes rotates a segment key or delegates to a caregiver. Events are keyed by
patient, on the topics and partitions (murmur2 of the key) a Kafka producer would use.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from phr.capture.format import CapturedRecord, CaptureFilters, CaptureHeader, b64, write_capture
from phr.crypto.signing import SigningKey, b64u_encode
from phr.events.catalog import TOPICS, spec_for
from phr.events.envelope import CLOUDEVENTS_JSON, new_event
from phr.fhir.segments import SEGMENTS
from phr.identity.params import (
    PublishedKey,
    SrsNode,
    SrsParams,
    SystemParams,
    TokenParams,
    sign_params,
)

PARTITIONS = 3
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SERVICES = ("kgc", "owner-api", "user-api", "cloud-store", "ledger")
NODES = ("srs-1", "srs-2", "srs-3")


def throwaway_key(seed: int, name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(f"phr-generate/{seed}/{name}".encode()).digest())


def _published(key: SigningKey, name: str) -> PublishedKey:
    vk = key.verify_key
    return PublishedKey(ed25519_public=vk.b64(), fingerprint=vk.fingerprint(), url=f"http://{name}")


def throwaway_params(seed: int) -> dict[str, Any]:
    keys = {n: throwaway_key(seed, n) for n in (*SERVICES, *NODES)}
    x_pub = b64(hashlib.sha256(f"x25519/{seed}".encode()).digest()) or ""
    params = SystemParams(
        issued_at=START,
        kgc=_published(keys["kgc"], "kgc"),
        token=TokenParams(ttl_s=900),
        srs=SrsParams(
            threshold=2,
            nodes=[
                SrsNode(
                    id=n,
                    url=f"http://{n}",
                    x25519_public=x_pub,
                    ed25519_public=keys[n].verify_key.b64(),
                )
                for n in NODES
            ],
        ),
        ledger=_published(keys["ledger"], "ledger"),
        services={n: _published(k, n) for n, k in sorted(keys.items())},
        segments=list(SEGMENTS),
    )
    return sign_params(params, keys["kgc"]).model_dump(mode="json")


class _Stream:
    def __init__(self, seed: int) -> None:
        from aiokafka.partitioner import murmur2

        self._murmur2 = murmur2
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = START
        self.offsets: dict[tuple[str, int], int] = {}
        self.records: list[CapturedRecord] = []

    def hex(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def ident(self, prefix: str, n: int = 20) -> str:
        return prefix + (f"{self.rng.getrandbits(160):040x}")[:n]

    def emit(self, type: str, source: str, subject: str, data: dict[str, Any]) -> None:
        spec = spec_for(type)
        self.now += timedelta(milliseconds=self.rng.randint(5, 400))
        event = new_event(
            key=throwaway_key(self.seed, source),
            source=source,
            type=type,
            schemaversion=spec.version,
            subject=subject,
            data=spec.model.model_validate(data).model_dump(mode="json"),
            correlationid=f"gen-{self.rng.getrandbits(48):012x}",
            id=UUID(int=self.rng.getrandbits(128), version=4),
            time=self.now,
        )
        key = subject.encode()
        partition = (self._murmur2(key) & 0x7FFFFFFF) % PARTITIONS
        tp = (spec.topic, partition)
        offset = self.offsets.get(tp, 0)
        self.offsets[tp] = offset + 1
        self.records.append(
            CapturedRecord(
                topic=spec.topic,
                partition=partition,
                offset=offset,
                timestamp=int(self.now.timestamp() * 1000),
                key=b64(key),
                value=b64(event.to_json_bytes()),
                headers=[("content-type", b64(CLOUDEVENTS_JSON.encode()))],
            )
        )


def _enrol(s: _Stream, user_id: str, role: str, org: str | None) -> None:
    # Public keys of the right sizes (32-byte Ed25519, 33-byte compressed Umbral), each
    # fingerprint the SHA-256 of its key, as the KGC announces them.
    ed, um = s.rng.randbytes(32), b"\x02" + s.rng.randbytes(32)
    s.emit(
        "user.enrolled",
        "kgc",
        user_id,
        {
            "user_id": user_id,
            "role": role,
            "organisation_id": org,
            "status": "active",
            "ed25519_fingerprint": hashlib.sha256(ed).hexdigest(),
            "umbral_fingerprint": hashlib.sha256(um).hexdigest(),
            "ed25519_public": b64u_encode(ed),
            "umbral_public": b64u_encode(um),
        },
    )


def _patient(s: _Stream, doctors: list[str]) -> None:
    pid = s.ident("u_")
    _enrol(s, pid, "patient", None)
    for _ in range(s.rng.randint(1, 3)):
        rid = s.ident("r_", 32)
        segments = sorted(s.rng.sample(list(SEGMENTS), s.rng.randint(2, 5)))
        s.emit(
            "record.uploaded",
            "owner-api",
            pid,
            {
                "patient_id": pid,
                "record_id": rid,
                "uploaded_by": pid,
                "uploaded_at": s.now.isoformat(),
                "manifest_sha256": s.hex(),
                "segments": [
                    {
                        "segment": g,
                        "key_version": 1,
                        "size": s.rng.randint(200, 300_000),
                        "sha256": s.hex(),
                    }
                    for g in segments
                ],
            },
        )
        for doctor in s.rng.sample(doctors, min(len(doctors), s.rng.randint(1, 2))):
            _read(s, pid, rid, doctor, s.rng.sample(segments, s.rng.randint(1, len(segments))))
    if s.rng.random() < 0.2:
        s.emit(
            "key.rotated",
            "owner-api",
            pid,
            {
                "patient_id": pid,
                "segment": s.rng.choice(SEGMENTS),
                "new_version": 2,
                "rotated_by": pid,
            },
        )
    if s.rng.random() < 0.1:
        s.emit(
            "delegation.changed",
            "owner-api",
            pid,
            {
                "delegation_id": s.ident("d_"),
                "patient_id": pid,
                "delegate_user_id": s.ident("u_"),
                "segments": ["labs"],
                "active": True,
                "changed_by": pid,
            },
        )


def _read(s: _Stream, pid: str, rid: str, doctor: str, segments: list[str]) -> None:
    req = s.ident("req_")
    base = {"request_id": req, "patient_id": pid, "record_id": rid, "requester_id": doctor}
    s.emit("access.requested", "user-api", pid, {**base, "segments": segments})
    grant = s.ident("g_") if s.rng.random() < 0.8 else None
    for node in NODES:
        granted = [{"segment": g, "grant_id": grant} for g in segments] if grant else []
        denied = [] if grant else [{"segment": g, "reason": "no grant"} for g in segments]
        s.emit(
            "access.decided",
            node,
            pid,
            {**base, "node_id": node, "granted": granted, "denied": denied},
        )


def generate(out: Path, patients: int, seed: int) -> dict[str, Any]:
    """Write a signed capture of ``patients`` patients' events and its keys beside it."""
    s = _Stream(seed)
    org = s.ident("org_", 12)
    doctors = [s.ident("u_") for _ in range(max(1, patients // 5))]
    for d in doctors:
        _enrol(s, d, "doctor", org)
    for _ in range(patients):
        _patient(s, doctors)
    params = throwaway_params(seed)
    header = CaptureHeader(
        created=START,
        partitions=dict.fromkeys(sorted(TOPICS), PARTITIONS),
        params=params,
        filters=CaptureFilters(topics=sorted(TOPICS)),
    )
    written = write_capture(out, header, s.records)
    keys_path = out.with_name(out.name + ".keys.json")
    keys_path.write_text(
        json.dumps(
            {
                "warning": "throwaway keys of a generated stream: never trust them in production",
                "seed": seed,
                "ed25519_private": {
                    n: throwaway_key(seed, n).seed_b64() for n in (*SERVICES, *NODES)
                },
                "params": params,
            },
            indent=2,
        )
        + "\n"
    )
    return {"events": written, "file": str(out), "keys": str(keys_path)}
