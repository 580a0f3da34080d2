"""The KGC's signed system parameters, and how a client pins and verifies them.

The KGC signs :class:`SystemParams` with its Ed25519 service key (RFC 8785 JSON). A
client pins the KGC key the first time (trust on first use, or a key given out of band)
and from then on accepts only documents signed by that key whose ``issued_at`` does not
go backwards (a replayed older document could resurrect a removed SRS node). Pure:
fetching over HTTP and storing the pin are the caller's business.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey, b64u_decode, b64u_encode

PARAMS_VERSION = 1


class ParamsInvalid(Exception):
    """Malformed, wrongly signed, signed by another key than the pinned one, or older."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PublishedKey(_Frozen):
    """A service's Ed25519 public key (base64url, raw 32 bytes) and fingerprint."""

    ed25519_public: str
    fingerprint: str
    url: str | None = None


class SrsNode(_Frozen):
    id: str
    url: str
    x25519_public: str
    ed25519_public: str


class SrsParams(_Frozen):
    threshold: int = Field(ge=1)
    nodes: list[SrsNode]


class TokenParams(_Frozen):
    alg: str = "EdDSA"
    issuer: str = "kgc"
    audience: str = "phr"
    ttl_s: int


class SystemParams(_Frozen):
    version: int = PARAMS_VERSION
    issued_at: AwareDatetime
    kgc: PublishedKey
    token: TokenParams
    srs: SrsParams
    ledger: PublishedKey | None
    #: every process's key by name, so anyone can verify an event's producer
    services: dict[str, PublishedKey]
    segments: list[str]


class SignedParams(_Frozen):
    params: SystemParams
    #: base64url Ed25519 over the RFC 8785 JSON of ``params``, by ``params.kgc``
    signature: str


def sign_params(params: SystemParams, key: SigningKey) -> SignedParams:
    if params.kgc.ed25519_public != key.verify_key.b64():
        raise ValueError("the parameters must name the key that signs them")
    sig = key.sign_json(params.model_dump(mode="json"))
    return SignedParams(params=params, signature=b64u_encode(sig))


class ParamsPin(_Frozen):
    """What a client remembers: the KGC key and the newest issue time it accepted."""

    kgc_public: str
    issued_at: datetime | None = None


def verify_params(
    document: dict[str, object] | str | bytes, pin: ParamsPin | None
) -> tuple[SystemParams, ParamsPin]:
    """Verify a fetched document; returns the parameters and the pin to keep.

    With ``pin=None`` the document's own KGC key is pinned (first use); its signature
    must still verify under that key.
    """
    try:
        signed = (
            SignedParams.model_validate(document)
            if isinstance(document, dict)
            else SignedParams.model_validate_json(document)
        )
    except ValidationError as exc:
        raise ParamsInvalid(f"not system parameters: {exc.errors()[0]['msg']}") from exc
    params = signed.params
    if params.version != PARAMS_VERSION:
        raise ParamsInvalid(f"unsupported parameters version {params.version}")
    key_b64 = pin.kgc_public if pin is not None else params.kgc.ed25519_public
    if params.kgc.ed25519_public != key_b64:
        raise ParamsInvalid("parameters name another KGC key than the pinned one")
    try:
        key = VerifyKey.from_b64(key_b64)
        key.verify_json(b64u_decode(signed.signature), params.model_dump(mode="json"))
    except (SignatureInvalid, ValueError) as exc:
        raise ParamsInvalid("bad signature on the system parameters") from exc
    if params.kgc.fingerprint != key.fingerprint():
        raise ParamsInvalid("KGC fingerprint does not match its key")
    if pin is not None and pin.issued_at is not None and params.issued_at < pin.issued_at:
        raise ParamsInvalid("parameters older than ones already accepted (rollback)")
    if params.srs.threshold > max(len(params.srs.nodes), 1):
        raise ParamsInvalid("SRS threshold above the number of nodes")
    return params, ParamsPin(kgc_public=key_b64, issued_at=params.issued_at)
