"""Traitor tracing: a leaked secret key -> the enrolled user it belongs to, revoked.

The operator traces anyone; an organisation's admin only his organisation's members
(:meth:`kgc.users.Directory.may_act_on`, the rule approve and revoke use too): a key of
anyone else is answered as unknown, and nothing is emitted or revoked.

Every enrolled public key is indexed by its SHA-256 fingerprint, so finding the owner
is one index lookup per public key the secret yields (an ambiguous 32-byte secret is
read both as an Umbral scalar and as an Ed25519 seed; see phr.crypto.export).
"""

from __future__ import annotations

from typing import Any, Literal

import structlog

from kgc.errors import UnknownKey, UnreadableSecret
from kgc.store import KgcStore
from kgc.users import Directory
from phr.api.kgc import TraceRequest, TraceResponse
from phr.crypto.errors import CryptoError
from phr.crypto.export import KeyFingerprint, public_keys_from_secret
from phr.crypto.keystore import decrypt_keystore
from phr.events.users import UserTraced
from phr.identity.tokens import Principal

log = structlog.get_logger("kgc.tracing")

_FIELDS: dict[str, tuple[str, Literal["umbral", "ed25519"]]] = {
    "pre": ("umbral_fp", "umbral"),
    "ed25519": ("ed25519_fp", "ed25519"),
}


def leaked_public_keys(req: TraceRequest) -> list[KeyFingerprint]:
    """The public keys a leaked secret corresponds to; UnreadableSecret if none."""
    given = [x for x in (req.secret_key, req.key_export, req.keystore) if x is not None]
    if len(given) != 1:
        raise UnreadableSecret("give exactly one of secret_key, key_export, keystore")
    try:
        if req.keystore is not None:
            material = decrypt_keystore(req.keystore, req.passphrase or "")
            pre, vk = material.user.pre.public_key(), material.user.signing.verify_key
            return [
                KeyFingerprint("pre", pre.b64(), pre.fingerprint()),
                KeyFingerprint("ed25519", vk.b64(), vk.fingerprint()),
            ]
        leaked: dict[str, Any] | str = (
            req.key_export if req.key_export is not None else (req.secret_key or "")
        )
        return public_keys_from_secret(leaked)
    except (CryptoError, ValueError) as exc:
        raise UnreadableSecret(f"cannot read the secret key: {type(exc).__name__}") from None


class Tracer:
    def __init__(self, store: KgcStore, directory: Directory) -> None:
        self.store = store
        self.directory = directory

    async def trace(
        self, req: TraceRequest, by: Principal, correlation_id: str | None
    ) -> TraceResponse:
        for candidate in leaked_public_keys(req):
            if candidate.kind not in _FIELDS:
                continue
            field, kind = _FIELDS[candidate.kind]
            user = await self.store.user_by_fingerprint(field, candidate.fingerprint)
            # Another organisation's member is answered as an unknown key: an admin
            # learns nothing about, and changes nothing of, users outside his own.
            if user is None or not self.directory.may_act_on(by, user):
                continue
            user_id = user["_id"]
            log.warning("user.traced", user_id=user_id, key_kind=kind, traced_by=by.sub)
            traced = self.directory.event(
                "user.traced",
                UserTraced(
                    user_id=user_id,
                    key_kind=kind,
                    key_fingerprint=candidate.fingerprint,
                    traced_by=by.sub,
                ),
                user_id=user_id,
                # one tracing per leaked key: a retried trace announces nothing new
                key=f"{user_id}/{candidate.fingerprint}",
                correlation_id=correlation_id,
            )
            revoked = await self.directory.revoke(
                user_id,
                by=by.sub,
                reason=f"traitor tracing: leaked {kind} key",
                correlation_id=correlation_id,
                also=[traced],
                admin=by,
            )
            return TraceResponse(
                user_id=user_id,
                role=user["role"],
                organisation_id=user.get("organisation_id"),
                key_kind=kind,
                key_fingerprint=candidate.fingerprint,
                revoked=revoked["status"] == "revoked",
            )
        raise UnknownKey("this key belongs to no enrolled user; nothing was changed")
