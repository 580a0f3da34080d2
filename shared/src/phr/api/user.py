"""user-api's bodies: search, what is shared with the caller, access, emergency access."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from phr.api import examples as ex
from phr.api._base import In, Out
from phr.api.cloud import SearchMatch, SearchOut
from phr.api.ids import Hex64, Id

Trapdoor = Hex64


__all__ = [
    "AccessIn",
    "AccessOut",
    "BreakglassList",
    "BreakglassOut",
    "GrantToCaller",
    "GrantedSegment",
    "SearchIn",
    "SearchMatch",
    "SearchOut",
    "SharedDetail",
    "SharedOut",
    "SharedPatient",
    "SharedRecord",
    "WithheldSegment",
]


class SearchIn(In):
    model_config = ex.examples({"trapdoors": list(ex.TAGS), "patient_id": ex.PATIENT})
    trapdoors: list[Trapdoor] = Field(
        min_length=1,
        max_length=32,
        description="HMAC trapdoors of one search key; a segment matches if it has them all",
    )
    patient_id: Id | None = Field(default=None, description="only this patient's records")


class SharedRecord(Out):
    model_config = ex.examples(
        {
            "record_id": ex.RECORD,
            "uploaded_by": ex.PATIENT,
            "uploaded_at": ex.TIME,
            "segments": {ex.SEGMENT: 1},
        }
    )
    record_id: str
    uploaded_by: str = Field(description="the patient, or a contributor (own search keys)")
    uploaded_at: datetime | None
    segments: dict[str, int] = Field(description="granted segment -> key version")


class SharedPatient(Out):
    model_config = ex.examples(
        {
            "patient_id": ex.PATIENT,
            "segments": [ex.SEGMENT],
            "records": [ex.example_of(SharedRecord)],
        }
    )
    patient_id: str
    segments: list[str] = Field(description="segments granted to the caller")
    records: list[SharedRecord]


class SharedOut(Out):
    model_config = ex.examples({"patients": [ex.example_of(SharedPatient)]})
    patients: list[SharedPatient]


class GrantToCaller(Out):
    """A grant of the patient addressed to the caller (or a group of his), any status."""

    model_config = ex.examples(
        {
            "grant_id": ex.GRANT,
            "segments": [ex.SEGMENT],
            "grantee_user_id": ex.DOCTOR,
            "grantee_group": None,
            "status": "active",
            "not_before": None,
            "expires_at": ex.EXPIRES,
            "data_from": None,
            "purpose": "diabetes follow-up",
            "emergency": False,
            "revoked_at": None,
        }
    )

    grant_id: str
    segments: list[str]
    grantee_user_id: str | None
    grantee_group: dict[str, str] | None
    status: str = Field(description="active | revoked | expired | pending (not yet valid)")
    not_before: datetime | None
    expires_at: datetime | None
    data_from: datetime | None
    purpose: str | None
    emergency: bool
    revoked_at: datetime | None


class WithheldSegment(Out):
    model_config = ex.examples(
        {"record_id": ex.RECORD, "segment": "imaging", "reason": "not-granted"}
    )
    record_id: str
    segment: str
    reason: str = Field(description="not-granted | revoked | expired | not-yet-valid")


class SharedDetail(Out):
    """One patient, as the caller may know him: grants to him, readable records, and the
    segments of those records he may not read now, with why. Empty unless the patient
    ever granted the caller something."""

    model_config = ex.examples(
        {
            "patient_id": ex.PATIENT,
            "grants": [ex.example_of(GrantToCaller)],
            "records": [
                {
                    "record_id": ex.RECORD,
                    "uploaded_by": ex.PATIENT,
                    "uploaded_at": ex.TIME,
                    "segments": {ex.SEGMENT: 1},
                }
            ],
            "withheld": [{"record_id": ex.RECORD, "segment": "imaging", "reason": "not-granted"}],
        }
    )

    patient_id: str
    grants: list[GrantToCaller]
    records: list[SharedRecord]
    withheld: list[WithheldSegment]


class AccessIn(In):
    model_config = ex.examples(
        {"patient_id": ex.PATIENT, "record_id": ex.RECORD, "segments": [ex.SEGMENT]},
        {
            "patient_id": ex.PATIENT,
            "record_id": ex.RECORD,
            "breakglass": True,
            "breakglass_reason": "unconscious in A&E, allergy history needed",
        },
    )
    patient_id: Id
    record_id: Id
    segments: list[Id] | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="default: the segments the caller holds grants for",
    )
    breakglass: bool = Field(default=False, description="emergency access (needs a reason)")
    breakglass_reason: str | None = Field(default=None, max_length=2000)

    @property
    def reason(self) -> str | None:
        return (self.breakglass_reason or "").strip() or None


class GrantedSegment(Out):
    """A segment t nodes granted (their cfrags are in ``node_answers``, as signed)."""

    model_config = ex.examples(
        {
            "key_version": 1,
            "grant_id": ex.GRANT,
            "threshold": 2,
            "breakglass": False,
            "url": ex.GET_URL,
        }
    )

    key_version: int
    grant_id: str
    threshold: int
    breakglass: bool
    url: str = Field(description="presigned S3 GET of this segment's ciphertext, until expires_at")


class AccessOut(Out):
    model_config = ex.examples(
        {
            "request_id": ex.REQUEST,
            "patient_id": ex.PATIENT,
            "record_id": ex.RECORD,
            "requester_id": ex.DOCTOR,
            "expires_at": ex.LATER,
            "signed_manifest": ex.SIGNED_MANIFEST,
            "segments": {
                ex.SEGMENT: {
                    "key_version": 1,
                    "grant_id": ex.GRANT,
                    "threshold": 2,
                    "breakglass": False,
                    "url": ex.GET_URL,
                }
            },
            "denied": [],
            "breakglass": None,
            "nodes": {"srs-1": "answered", "srs-2": "answered", "srs-3": "timeout"},
            "node_answers": [ex.REENCRYPT_ANSWER],
        }
    )
    request_id: str
    patient_id: str
    record_id: str
    requester_id: str
    expires_at: datetime = Field(description="the segments' URLs work until then")
    signed_manifest: dict[str, Any] | None = Field(
        description="the record's signed manifest; only when some segment was granted"
    )
    segments: dict[str, GrantedSegment]
    denied: list[dict[str, Any]]
    breakglass: dict[str, Any] | None = None
    nodes: dict[str, str] = Field(description="node id -> 'answered' or why not")
    node_answers: list[dict[str, Any]] = Field(
        description="every verified node answer as signed, so the reader can check it himself"
    )


class BreakglassOut(Out):
    model_config = ex.examples(
        {
            "request_id": ex.REQUEST,
            "patient_id": ex.PATIENT,
            "record_id": ex.RECORD,
            "requester_id": ex.DOCTOR,
            "segments": ["conditions", "medications"],
            "reason": "unconscious in A&E, allergy history needed",
            "nodes": ["srs-1", "srs-2"],
            "expires_in_s": 3600,
            "first_seen": ex.TIME,
            "review": "pending",
        }
    )
    request_id: str
    patient_id: str
    record_id: str | None
    requester_id: str
    segments: list[str]
    reason: str
    nodes: list[str]
    expires_in_s: int
    first_seen: datetime
    review: str


class BreakglassList(Out):
    model_config = ex.examples(
        {
            "patient_id": ex.PATIENT,
            "accesses": [ex.example_of(BreakglassOut)],
        }
    )
    patient_id: str
    accesses: list[BreakglassOut]
