"""Detached Ed25519 signatures over RFC 8785 JSON documents (records, grants, events).

The signature covers ``canonical_json(document)``. Verify over the document exactly
as received (a dict), never over a re-serialised model, so that an unknown field
cannot slip past the signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey, b64u_decode, b64u_encode


def sign_document(key: SigningKey, document: Mapping[str, Any] | BaseModel) -> str:
    """b64u Ed25519 signature of the document's canonical JSON."""
    return b64u_encode(key.sign_json(_plain(document)))


def verify_document(
    key: VerifyKey, document: Mapping[str, Any] | BaseModel, signature_b64: str
) -> None:
    """Raise :class:`SignatureInvalid` unless ``signature_b64`` signs ``document``."""
    try:
        signature = b64u_decode(signature_b64)
    except ValueError as exc:
        raise SignatureInvalid("malformed signature") from exc
    key.verify_json(signature, _plain(document))


def _plain(document: Mapping[str, Any] | BaseModel) -> Any:
    if isinstance(document, BaseModel):
        return document.model_dump(mode="json")
    return dict(document)
