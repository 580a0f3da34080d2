"""Mapping between a node's Mongo documents and its models (see :mod:`srs.store`)."""

from __future__ import annotations

from typing import Any

from srs.models import (
    Delegation,
    GrantInfo,
    KeyGrant,
    PendingGrant,
    RecordInfo,
    SealedKfrag,
    SegmentCapsule,
    UserInfo,
)

Document = dict[str, Any]


def user_doc(user: UserInfo) -> Document:
    return {
        "role": user.role,
        "org": user.org,
        "dept": user.dept,
        "ed25519_fp": user.ed25519_fp,
    }


def user_of(doc: Document) -> UserInfo:
    return UserInfo(
        user_id=doc["_id"],
        role=doc.get("role") or "",
        ed25519_fp=doc.get("ed25519_fp") or "",
        org=doc.get("org"),
        dept=doc.get("dept"),
        revoked=bool(doc.get("revoked")),
    )


def delegation_of(doc: Document) -> Delegation:
    return Delegation(
        delegation_id=doc["delegation_id"],
        patient_id=doc["patient_id"],
        delegate_user_id=doc["delegate_user_id"],
        segments=tuple(doc.get("segments", ())),
        active=bool(doc.get("active")),
    )


def grant_doc(grant: GrantInfo) -> Document:
    return {
        "grant_id": grant.grant_id,
        "patient_id": grant.patient_id,
        "segments": list(grant.segments),
        "threshold": grant.threshold,
        "granted_by": grant.granted_by,
        "grantee_user_id": grant.grantee_user_id,
        "grantee_group": grant.grantee_group,
        "not_before": grant.not_before,
        "expires_at": grant.expires_at,
        "data_from": grant.data_from,
        "purpose": grant.purpose,
        "emergency": grant.emergency,
        "on_behalf_of": grant.on_behalf_of,
        "key_versions": [{"segment": s, "key_version": v} for s, v in sorted(grant.key_versions)],
        "created_at": grant.created_at,
        "revoked_at": grant.revoked_at,
        "revoked_reason": grant.revoked_reason,
    }


def grant_of(doc: Document) -> GrantInfo:
    return GrantInfo(
        grant_id=doc["grant_id"],
        patient_id=doc["patient_id"],
        segments=tuple(doc.get("segments") or ()),
        threshold=int(doc.get("threshold") or 1),
        granted_by=doc.get("granted_by") or "",
        grantee_user_id=doc.get("grantee_user_id"),
        grantee_group=doc.get("grantee_group"),
        not_before=doc.get("not_before"),
        expires_at=doc.get("expires_at"),
        data_from=doc.get("data_from"),
        purpose=doc.get("purpose"),
        emergency=bool(doc.get("emergency")),
        on_behalf_of=doc.get("on_behalf_of"),
        key_versions=frozenset(
            (kv["segment"], int(kv["key_version"])) for kv in doc.get("key_versions") or ()
        ),
        created_at=doc.get("created_at"),
        revoked_at=doc.get("revoked_at"),
        revoked_reason=doc.get("revoked_reason"),
    )


def key_grant_of(doc: Document) -> KeyGrant:
    return KeyGrant(
        grant_id=doc["grant_id"],
        patient_id=doc["patient_id"],
        segment=doc["segment"],
        key_version=int(doc["key_version"]),
        signed_grant=doc["signed_grant"],
        sealed_kfrag=SealedKfrag(bytes(doc["sealed_kfrag"])),
    )


def record_of(doc: Document) -> RecordInfo:
    return RecordInfo(
        record_id=doc["record_id"],
        patient_id=doc["patient_id"],
        segments=tuple(
            SegmentCapsule(s["segment"], int(s["key_version"]), s["capsule"])
            for s in doc.get("segments") or ()
        ),
        uploaded_at=doc.get("uploaded_at"),
        deleted_at=doc.get("deleted_at"),
    )


def pending_of(doc: Document) -> PendingGrant:
    return PendingGrant(
        event_id=doc["_id"],
        patient_id=doc["patient_id"],
        grant_id=doc["grant_id"],
        data=doc["data"],
        received_at=doc["received_at"],
    )
