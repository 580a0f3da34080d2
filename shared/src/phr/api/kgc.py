"""The KGC's bodies: enrolment, directory, organisations, login, tracing, groups.

The vocabularies of roles and organisation kinds are defined here (the wire is where a
wrong one is refused), and so is the shape of the KGC's signed credential;
``phr.events``, ``phr.identity`` and ``phr.identity.credentials`` (which signs and
verifies it) import them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from phr.api import examples as ex
from phr.api._base import In, Out
from phr.api.ids import ID_PATTERN
from phr.api.names import DisplayName

#: ``system``: a hospital system's own identity (a gateway), enrolled into its organisation;
#: ``auditor``: reads the ledger's event bodies, approved by the operator only
Role = Literal[
    "patient",
    "doctor",
    "nurse",
    "pharmacist",
    "lab",
    "insurer",
    "admin",
    "caregiver",
    "system",
    "auditor",
]
OrgKind = Literal["hospital", "lab", "pharmacy", "insurer"]
#: the services a token may be for (its ``aud``): the kinds of service that accept tokens
AudienceName = Literal["cloud-store", "kgc", "ledger", "owner-api", "srs", "user-api"]

_B64U = r"^[A-Za-z0-9_-]{20,200}$"


class Credential(BaseModel):
    """What the KGC attests of a user (signed: :class:`SignedCredential`)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [ex.CREDENTIAL["credential"]]}
    )

    #: only 1 so far (``int`` bounded to 1, not ``Literal[1]``: a ``const`` in the JSON
    #: Schema, which openapi-python-client turns into code that does not compile)
    version: int = Field(default=1, ge=1, le=1, strict=True)
    issuer: str = "kgc"
    user_id: str
    role: str
    organisation_id: str | None = None
    department: str | None = None
    ed25519_fingerprint: str
    umbral_fingerprint: str
    #: seconds since the epoch
    issued_at: int
    expires_at: int


class SignedCredential(BaseModel):
    """Signed and verified by ``phr.identity.credentials``."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [ex.CREDENTIAL]}
    )

    credential: Credential
    #: SHA-256 hex of the KGC key that signed
    signer: str
    #: base64url Ed25519 over the RFC 8785 JSON of ``credential``
    signature: str


class EnrolRequest(In):
    model_config = ex.examples(
        {
            "role": "patient",
            "display_name": "Ada Lovelace",
            "ed25519_public": ex.ED25519_PUBLIC,
            "umbral_public": ex.UMBRAL_PUBLIC,
            "proof": ex.SIGNATURE,
        },
        {
            "role": "doctor",
            "organisation_id": ex.ORG,
            "department": "cardiology",
            "ed25519_public": ex.ED25519_PUBLIC,
            "umbral_public": ex.UMBRAL_PUBLIC,
            "proof": ex.SIGNATURE,
        },
    )
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


class EnrolResponse(Out):
    model_config = ex.examples(
        {"user_id": ex.PATIENT, "status": "active", "credential": ex.CREDENTIAL},
        {"user_id": ex.DOCTOR, "status": "pending", "credential": None},
    )
    user_id: str
    status: Literal["active", "pending"]
    credential: SignedCredential | None = None


class UserView(Out):
    """A directory entry: public keys and attributes, nothing secret."""

    model_config = ex.examples(
        {
            "user_id": ex.PATIENT,
            "role": "patient",
            "organisation_id": None,
            "department": None,
            "display_name": "Ada Lovelace",
            "status": "active",
            "ed25519_public": ex.ED25519_PUBLIC,
            "umbral_public": ex.UMBRAL_PUBLIC,
            "ed25519_fingerprint": ex.FINGERPRINT,
            "umbral_fingerprint": ex.FINGERPRINT,
            "credential": ex.CREDENTIAL,
        }
    )

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


class OrgCreate(In):
    model_config = ex.examples({"name": "St Elsewhere", "kind": "hospital"})
    name: DisplayName
    kind: OrgKind


class OrgView(Out):
    model_config = ex.examples(
        {"organisation_id": ex.ORG, "name": "St Elsewhere", "kind": "hospital"}
    )
    organisation_id: str
    name: str
    kind: str


class RevokeRequest(In):
    model_config = ex.examples({"reason": "left the hospital"})
    reason: str = Field(default="revoked by an administrator", max_length=256)


class ChallengeRequest(In):
    model_config = ex.examples({"user_id": ex.PATIENT})
    user_id: str = Field(pattern=ID_PATTERN)


class ChallengeResponse(Out):
    model_config = ex.examples(
        {
            "user_id": ex.PATIENT,
            "nonce": "Vq3hX0n8c2kq1mXo7dQe5w",
            "expires_in": 60,
            "purpose": "phr-login-v1",
        }
    )
    user_id: str
    nonce: str
    expires_in: int
    #: what to sign: RFC 8785 JSON, see phr.identity.proofs.login_message
    purpose: str = "phr-login-v1"


class TokenRequest(In):
    model_config = ex.examples(
        {
            "user_id": ex.PATIENT,
            "nonce": "Vq3hX0n8c2kq1mXo7dQe5w",
            "signature": ex.SIGNATURE,
            "audience": ["user-api", "srs"],
        }
    )
    user_id: str = Field(pattern=ID_PATTERN)
    nonce: str = Field(min_length=16, max_length=128)
    #: base64url Ed25519 signature over login_message(user_id=…, nonce=…)
    signature: str = Field(pattern=_B64U)
    #: the service(s) the token is for (its ``aud``); every other service refuses it
    audience: AudienceName | list[AudienceName] = Field(
        description="the service kind the token is for, or a list of them "
        "(user-api's access token also names srs, to which user-api forwards it)",
        examples=["owner-api", ["user-api", "srs"]],
    )

    @field_validator("audience")
    @classmethod
    def _distinct(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not 0 < len(value) == len(set(value)):
            raise ValueError("audience list must be non-empty and without repeats")
        return value


class TokenResponse(Out):
    model_config = ex.examples(
        {"access_token": ex.ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 900}
    )
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class TraceRequest(In):
    """One of: a raw secret key (base64url, 32 bytes), a key export, or a keystore."""

    model_config = ex.examples({"secret_key": ex.X25519_PUBLIC})

    secret_key: str | None = Field(default=None, max_length=200)
    key_export: dict[str, Any] | None = None
    keystore: dict[str, Any] | None = None
    passphrase: str | None = Field(default=None, max_length=1024, repr=False)


class TraceResponse(Out):
    model_config = ex.examples(
        {
            "user_id": ex.DOCTOR,
            "role": "doctor",
            "organisation_id": ex.ORG,
            "key_kind": "umbral",
            "key_fingerprint": ex.FINGERPRINT,
            "revoked": True,
        }
    )
    user_id: str
    role: str
    organisation_id: str | None
    key_kind: Literal["umbral", "ed25519"]
    key_fingerprint: str
    revoked: bool


class GroupCreate(In):
    model_config = ex.examples({"selector": {"role": "doctor", "org": ex.ORG}})
    #: attribute selector, e.g. {"role": "doctor", "org": "org_1"} (keys role, org, dept)
    selector: dict[str, str] = Field(min_length=1, max_length=3)


class GroupView(Out):
    model_config = ex.examples(
        {
            "group_id": ex.GROUP,
            "selector": {"role": "doctor", "org": ex.ORG},
            "version": 1,
            "public_key": ex.UMBRAL_PUBLIC,
            "public_keys": {"1": ex.UMBRAL_PUBLIC},
        }
    )
    group_id: str
    selector: dict[str, str]
    #: current key version (new grants use it); older versions stay valid for old grants
    version: int
    #: base64url Umbral public key of the current version
    public_key: str
    #: every version's public key
    public_keys: dict[str, str]


class SealedGroupKey(Out):
    model_config = ex.examples(
        {"version": 1, "public_key": ex.UMBRAL_PUBLIC, "sealed_secret": ex.CAPSULE}
    )
    version: int
    public_key: str
    #: base64url KeyCapsule (phr.crypto.pre.seal_to_key) of the 32-byte group secret key,
    #: sealed to the member's own Umbral public key
    sealed_secret: str


class MemberKey(Out):
    model_config = ex.examples(
        {
            "group_id": ex.GROUP,
            "user_id": ex.DOCTOR,
            "version": 1,
            "keys": [{"version": 1, "public_key": ex.UMBRAL_PUBLIC, "sealed_secret": ex.CAPSULE}],
        }
    )
    group_id: str
    user_id: str
    version: int
    keys: list[SealedGroupKey]
