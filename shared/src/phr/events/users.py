"""Identity events, produced by the KGC."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from phr.api.kgc import Role
from phr.events.base import EventData


class UserEnrolled(EventData):
    user_id: str
    role: Role
    organisation_id: str | None = None
    department: str | None = None
    status: Literal["active", "pending"]
    ed25519_fingerprint: str = Field(description="SHA-256 hex of the user's Ed25519 public key")
    umbral_fingerprint: str = Field(description="SHA-256 hex of the user's Umbral public key")


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
