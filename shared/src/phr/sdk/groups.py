"""Group keys from the reader's side: fetch and open the group secret the KGC seals to you.

A grant to a group (attribute selector) has kfrags made to the *group's* Umbral public
key; the grant document's ``grantee_id`` is the group id and ``receiving_pk`` the group
key of the version used. A member opens the SRS nodes' cfrags with the group secret::

    group_sk = await member_group_key(kgc_url, token, my_keys, doc.grantee_id,
                                      public_key=doc.receiving_pk)
    secret = grantee_secret(as_receiver(my_keys, group_sk), entry, doc, cfrags)

The KGC hands the secret only to active staff whose attributes match the selector
(see ``kgc.groups`` for the trust this places in the KGC).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from phr.crypto.errors import CapsuleOpenError
from phr.crypto.keys import UserKeys
from phr.crypto.pre import KeyCapsule, PreSecretKey, open_sealed_key
from phr.sdk.errors import raise_for_problem
from phr.sdk.transport import new_client


class GroupKeyMismatch(Exception):
    """The KGC's sealed secret does not match the public key it names (or the one asked for)."""


def open_member_keys(body: Mapping[str, Any], keys: UserKeys) -> dict[str, PreSecretKey]:
    """Public key (b64u) -> group secret key, from a ``GET /v1/groups/{id}/member-key`` body.

    Each secret is checked against the public key it is announced with.
    """
    out: dict[str, PreSecretKey] = {}
    for item in body["keys"]:
        try:
            raw = open_sealed_key(keys.pre, KeyCapsule.from_b64(item["sealed_secret"]))
        except CapsuleOpenError as exc:
            raise GroupKeyMismatch("the group secret is not sealed to this user's key") from exc
        secret = PreSecretKey.from_bytes(raw)
        if secret.public_key().b64() != item["public_key"]:
            raise GroupKeyMismatch(f"group key v{item['version']} does not match its public key")
        out[item["public_key"]] = secret
    return out


async def member_group_key(
    kgc_url: str,
    token: str,
    keys: UserKeys,
    group_id: str,
    *,
    public_key: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> PreSecretKey:
    """The group secret key for ``public_key`` (a grant's ``receiving_pk``; default: the
    group's current version). Raises :class:`phr.sdk.errors.ApiError` (403 for a
    non-member, 404 for an unknown group) or :class:`GroupKeyMismatch`."""
    client = http or new_client(timeout_s=30.0)
    try:
        resp = await client.get(
            f"{kgc_url.rstrip('/')}/v1/groups/{group_id}/member-key",
            headers={"Authorization": f"Bearer {token}"},
        )
        body = raise_for_problem(resp).json()
    finally:
        if http is None:
            await client.aclose()
    secrets = open_member_keys(body, keys)
    wanted = public_key
    if wanted is None:
        wanted = next(k["public_key"] for k in body["keys"] if k["version"] == body["version"])
    if wanted not in secrets:
        raise GroupKeyMismatch(f"group {group_id} has no key {wanted[:12]}… for this member")
    return secrets[wanted]


def as_receiver(keys: UserKeys, group_secret: PreSecretKey) -> UserKeys:
    """``keys`` with the group secret as the receiving key, for ``grantee_secret``."""
    return UserKeys(group_secret, keys.signing)
