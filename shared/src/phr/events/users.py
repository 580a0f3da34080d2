"""Identity events, produced by the KGC."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from phr.api.kgc import OrgKind, Role
from phr.events.base import EventData


# ``user.enrolled`` v1: the user's attributes and key fingerprints only (read and upcast,
# no longer written: a KGC cannot rebuild its directory from fingerprints). No docstring:
# it would enter the frozen JSON Schema of v1.
class UserEnrolledV1(EventData):
    model_config = ConfigDict(title="UserEnrolled")

    user_id: str
    role: Role
    organisation_id: str | None = None
    department: str | None = None
    status: Literal["active", "pending"]
    ed25519_fingerprint: str = Field(description="SHA-256 hex of the user's Ed25519 public key")
    umbral_fingerprint: str = Field(description="SHA-256 hex of the user's Umbral public key")


#: base64url of a raw public key (32-byte Ed25519, 33-byte compressed Umbral)
_PUBLIC_KEY = r"^[A-Za-z0-9_-]{20,200}$"


class UserEnrolled(UserEnrolledV1):
    """``user.enrolled`` v2: everything public the KGC's directory holds of the user, so a
    KGC rebuilds him from the stream (never a secret; the display name stays out: a name
    written into an append-only ledger could never be erased)."""

    ed25519_public: str | None = Field(
        pattern=_PUBLIC_KEY,
        description="base64url of the raw Ed25519 public key; null only in an event "
        "upcast from v1, which did not carry it",
    )
    umbral_public: str | None = Field(
        pattern=_PUBLIC_KEY,
        description="base64url of the compressed Umbral public key; null only in an "
        "event upcast from v1",
    )


def upcast_enrolled_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the public keys were not in v1, so they are unknown (null), never guessed."""
    return {**data, "ed25519_public": None, "umbral_public": None}


class UserApproved(EventData):
    user_id: str
    approved_by: str


class UserRevoked(EventData):
    user_id: str
    revoked_by: str
    reason: str


class UserTraced(EventData):
    user_id: str
    key_kind: Literal["umbral", "ed25519"]
    key_fingerprint: str
    traced_by: str


class OrganisationCreated(EventData):
    """An organisation created by the operator: the KGC rebuilds its directory from it."""

    organisation_id: str
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    created_by: str
