"""Request and response bodies of the KGC's API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from phr.api.ids import ID_PATTERN
from phr.events.users import Role
from phr.identity.credentials import SignedCredential
from phr.identity.names import DisplayName
from phr.identity.roles import OrgKind

_B64U = r"^[A-Za-z0-9_-]{20,200}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrolRequest(_In):
    role: Role
    organisation_id: str | None = Field(default=None, pattern=ID_PATTERN)
    department: str | None = Field(default=None, max_length=64)
    display_name: DisplayName | None = None
    #: base64url of the raw 32-byte Ed25519 public key
    ed25519_public: str = Field(pattern=_B64U)
    #: base64url of the 33-byte compressed Umbral public key
    umbral_public: str = Field(pattern=_B64U)
    #: base64url Ed25519 signature over phr.identity.proofs.enrolment_message(...)
    proof: str = Field(pattern=_B64U)


class EnrolResponse(BaseModel):
    user_id: str
    status: Literal["active", "pending"]
    credential: SignedCredential | None = None


class UserView(BaseModel):
    """A directory entry: public keys and attributes, nothing secret."""

    user_id: str
    role: str
    organisation_id: str | None
    department: str | None
    display_name: str | None
    status: str
    ed25519_public: str
    umbral_public: str
    ed25519_fingerprint: str
    umbral_fingerprint: str
    credential: SignedCredential | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> UserView:
        return cls(
            user_id=doc["_id"],
            role=doc["role"],
            organisation_id=doc.get("organisation_id"),
            department=doc.get("department"),
            display_name=doc.get("display_name"),
            status=doc["status"],
            ed25519_public=doc["ed25519_public"],
            umbral_public=doc["umbral_public"],
            ed25519_fingerprint=doc["ed25519_fp"],
            umbral_fingerprint=doc["umbral_fp"],
            credential=doc.get("credential"),
        )


class OrgCreate(_In):
    name: DisplayName
    kind: OrgKind


class OrgView(BaseModel):
    organisation_id: str
    name: str
    kind: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OrgView:
        return cls(organisation_id=doc["_id"], name=doc["name"], kind=doc["kind"])


class RevokeRequest(_In):
    reason: str = Field(default="revoked by an administrator", max_length=256)


class ChallengeRequest(_In):
    user_id: str = Field(pattern=ID_PATTERN)


class ChallengeResponse(BaseModel):
    user_id: str
    nonce: str
    expires_in: int
    #: what to sign: RFC 8785 JSON, see phr.identity.proofs.login_message
    purpose: str = "phr-login-v1"


class TokenRequest(_In):
    user_id: str = Field(pattern=ID_PATTERN)
    nonce: str = Field(min_length=16, max_length=128)
    #: base64url Ed25519 signature over login_message(user_id=…, nonce=…)
    signature: str = Field(pattern=_B64U)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class TraceRequest(_In):
    """One of: a raw secret key (base64url, 32 bytes), a key export, or a keystore."""

    secret_key: str | None = Field(default=None, max_length=200)
    key_export: dict[str, Any] | None = None
    keystore: dict[str, Any] | None = None
    passphrase: str | None = Field(default=None, max_length=1024, repr=False)


class TraceResponse(BaseModel):
    user_id: str
    role: str
    organisation_id: str | None
    key_kind: Literal["umbral", "ed25519"]
    key_fingerprint: str
    revoked: bool


class GroupCreate(_In):
    #: attribute selector, e.g. {"role": "doctor", "org": "org_1"} (keys role, org, dept)
    selector: dict[str, str] = Field(min_length=1, max_length=3)


class GroupView(BaseModel):
    group_id: str
    selector: dict[str, str]
    #: current key version (new grants use it); older versions stay valid for old grants
    version: int
    #: base64url Umbral public key of the current version
    public_key: str
    #: every version's public key
    public_keys: dict[str, str]


class SealedGroupKey(BaseModel):
    version: int
    public_key: str
    #: base64url KeyCapsule (phr.crypto.pre.seal_to_key) of the 32-byte group secret key,
    #: sealed to the member's own Umbral public key
    sealed_secret: str


class MemberKey(BaseModel):
    group_id: str
    user_id: str
    version: int
    keys: list[SealedGroupKey]
