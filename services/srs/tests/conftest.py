"""A small world for the SRS unit tests: three nodes, a patient, a doctor, real grants.

Everything is in memory (``srs.memory.MemoryStore``); the crypto is the real one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phr.client.grant import SrsNode, make_grant
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.pre import KeyCapsule, PrePublicKey, encapsulate
from phr.crypto.seal import NodeSecretKey
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import SigningKey, b64u_encode
from phr.events.acl import AclGranted, AclRevoked, DelegationChanged, SegmentKeyGrant
from phr.events.base import EventData
from phr.events.catalog import spec_for
from phr.events.envelope import Envelope
from phr.events.records import RecordDeleted, RecordUploaded, SegmentSummary
from phr.events.users import UserEnrolled, UserRevoked
from srs.handlers import EventHandlers, producer_verifier
from srs.memory import MemoryStore
from srs.verification import NodeIdentity

NODE_IDS = ("srs-1", "srs-2", "srs-3")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PATIENT = "pat-1"
DOCTOR = "doc-1"


@dataclass
class Node:
    identity: NodeIdentity
    store: MemoryStore
    handlers: EventHandlers
    processed: set[str] = field(default_factory=set)
    #: told of each applied event, like the consumer's ``after_commit``
    after_apply: list[Callable[[Envelope], None]] = field(default_factory=list)

    async def apply(self, event: Envelope, verify: Any = None) -> bool:
        """What the consumer does: verify, then apply once per (source, id)."""
        if verify is not None:
            await verify(event)
        key = f"{event.source}:{event.id}"
        if key in self.processed:
            return False
        self.processed.add(key)
        await self.handlers(event, None)
        for hook in self.after_apply:
            hook(event)
        return True


class World:
    def __init__(self) -> None:
        self.owner_api = SigningKey.from_seed(b"o" * 32)
        self.kgc = SigningKey.from_seed(b"k" * 32)
        self.node_keys = {n: NodeSecretKey.generate() for n in NODE_IDS}
        self.patient = UserKeys.generate()
        self.master = PatientMasterKey.generate()
        self.doctor = UserKeys.generate()
        self.group_key = UserKeys.generate()  # a group's receiving key
        self.now = T0
        self.secrets: dict[tuple[str, int], SegmentSecret] = {}
        self.capsules: dict[tuple[str, int], KeyCapsule] = {}
        self.nodes = {n: self.make_node(n) for n in NODE_IDS}

    def clock(self) -> datetime:
        return self.now

    def make_node(self, node_id: str) -> Node:
        identity = NodeIdentity(node_id, self.node_keys[node_id])
        store = MemoryStore()
        return Node(identity, store, EventHandlers(store, identity, clock=self.clock))

    def verifier(self) -> Any:
        return producer_verifier(
            {"owner-api": self.owner_api.verify_key, "kgc": self.kgc.verify_key}
        )

    # ---------------------------------------------------------------- events

    def envelope(
        self, type: str, data: EventData, *, key: SigningKey | None = None, source: str = ""
    ) -> Envelope:
        kgc = type.startswith("user.")
        return spec_for(type).make(
            data,
            key=key or (self.kgc if kgc else self.owner_api),
            source=source or ("kgc" if kgc else "owner-api"),
            subject=getattr(data, "patient_id", None) or getattr(data, "user_id", "x"),
        )

    def enrolled(
        self,
        user_id: str,
        keys: UserKeys,
        role: str = "patient",
        org: str | None = None,
        dept: str | None = None,
    ) -> Envelope:
        return self.envelope(
            "user.enrolled",
            UserEnrolled(
                user_id=user_id,
                role=role,  # type: ignore[arg-type]
                organisation_id=org,
                department=dept,
                status="active",
                ed25519_fingerprint=keys.signing.verify_key.fingerprint(),
                umbral_fingerprint=keys.pre.public_key().fingerprint(),
                ed25519_public=keys.signing.verify_key.b64(),
                umbral_public=keys.pre.public_key().b64(),
            ),
        )

    def user_revoked(self, user_id: str) -> Envelope:
        return self.envelope(
            "user.revoked", UserRevoked(user_id=user_id, revoked_by="admin", reason="test")
        )

    def capsule(self, segment: str, version: int = 1) -> KeyCapsule:
        if (segment, version) not in self.capsules:
            secret = SegmentSecret.generate()
            self.secrets[(segment, version)] = secret
            pk = self.master.segment_public_key(segment, version)
            self.capsules[(segment, version)] = encapsulate(pk, secret)
        return self.capsules[(segment, version)]

    def uploaded(
        self,
        record_id: str = "rec-1",
        segments: Iterable[str] = ("labs", "notes"),
        *,
        uploaded_at: datetime | None = None,
        version: int = 1,
        patient_id: str = PATIENT,
    ) -> Envelope:
        return self.envelope(
            "record.uploaded",
            RecordUploaded(
                patient_id=patient_id,
                record_id=record_id,
                uploaded_by=patient_id,
                uploaded_at=uploaded_at or self.now,
                manifest_sha256="0" * 64,
                segments=[
                    SegmentSummary(
                        segment=s,
                        key_version=version,
                        size=1,
                        sha256="0" * 64,
                        capsule=self.capsule(s, version).b64(),
                    )
                    for s in segments
                ],
            ),
        )

    def deleted(self, record_id: str = "rec-1", patient_id: str = PATIENT) -> Envelope:
        return self.envelope(
            "record.deleted",
            RecordDeleted(patient_id=patient_id, record_id=record_id, deleted_by=patient_id),
        )

    def grant_data(
        self,
        segments: Iterable[str] = ("labs",),
        *,
        grant_id: str | None = None,
        grantee: str | None = DOCTOR,
        group: dict[str, str] | None = None,
        receiving: PrePublicKey | None = None,
        author: SigningKey | None = None,
        version: int = 1,
        not_before: datetime | None = None,
        expires_at: datetime | None = None,
        data_from: datetime | None = None,
        emergency: bool = False,
        patient_id: str = PATIENT,
    ) -> AclGranted:
        grant_id = grant_id or f"g-{uuid.uuid4().hex[:8]}"
        segments = list(segments)
        nodes = [SrsNode(n, k.public_key()) for n, k in self.node_keys.items()]
        if group is not None:
            grantee = None
        key_grants = []
        for segment in segments:
            g = make_grant(
                self.master,
                author or self.patient.signing,
                patient_id=patient_id,
                grantee_id=grantee or "group",
                grantee_pk=receiving or (self.group_key if group else self.doctor).pre.public_key(),
                segment=segment,
                key_version=version,
                nodes=nodes,
                threshold=2,
                grant_id=f"{grant_id}/{segment}/v{version}",
                not_before=not_before.isoformat() if not_before else None,
                expires_at=expires_at.isoformat() if expires_at else None,
            )
            key_grants.append(
                SegmentKeyGrant(
                    segment=segment,
                    key_version=version,
                    signed_grant=g.signed.model_dump(mode="json"),
                    sealed_kfrags={n: b64u_encode(s) for n, s in g.sealed_kfrags.items()},
                )
            )
        return AclGranted(
            grant_id=grant_id,
            patient_id=patient_id,
            grantee_user_id=grantee,
            grantee_group=group,
            segments=segments,
            not_before=not_before,
            expires_at=expires_at,
            data_from=data_from,
            emergency=emergency,
            threshold=2,
            key_grants=key_grants,
            granted_by=patient_id,
        )

    def granted(self, data: AclGranted | None = None, **kw: Any) -> Envelope:
        return self.envelope("acl.granted", data or self.grant_data(**kw))

    def revoked(self, grant_id: str, patient_id: str = PATIENT) -> Envelope:
        return self.envelope(
            "acl.revoked",
            AclRevoked(grant_id=grant_id, patient_id=patient_id, revoked_by=patient_id),
        )

    def delegation(self, delegate: str, segments: Iterable[str], active: bool = True) -> Envelope:
        return self.envelope(
            "delegation.changed",
            DelegationChanged(
                delegation_id=f"d-{delegate}",
                patient_id=PATIENT,
                delegate_user_id=delegate,
                segments=list(segments),
                active=active,
                changed_by=PATIENT,
            ),
        )

    async def everywhere(self, *events: Envelope) -> None:
        for event in events:
            for node in self.nodes.values():
                await node.apply(event, self.verifier())

    async def setup_basic(self) -> None:
        """Patient and doctor enrolled, record rec-1 (labs, notes) uploaded an hour ago."""
        await self.everywhere(
            self.enrolled(PATIENT, self.patient),
            self.enrolled(DOCTOR, self.doctor, "doctor", "org-1", "cardio"),
            self.uploaded(uploaded_at=self.now - timedelta(hours=1)),
        )


@pytest.fixture
def world() -> World:
    return World()
