"""Group keys: one Umbral key pair per attribute selector, handed to its members.

Why (issue 6): a patient grants a segment to "every doctor of org X" once, while he is
online; a doctor who joins X tomorrow must read at once, with no new kfrags from the
patient. So the patient makes his kfrags to a *group* public key (``receiving_pk``; the
grant document's ``grantee_id`` is the group id), and the KGC gives the group's secret
key, sealed to the member's own Umbral key (``phr.crypto.pre.seal_to_key``), to each
active staff member whose KGC-signed attributes match the selector.

Trust assumptions, plainly:

- The KGC can compute every group secret (it derives them). It could read a
  group-granted segment only by also obtaining ``t`` cfrags; SRS nodes hand cfrags only
  to callers whose token attributes match the selector, and the KGC mints those tokens.
  So the KGC is *trusted* for group grants, as it already is for identity and
  attributes (DESIGN.md). Grants to a named user do not depend on this.
- Nothing secret is stored: group secrets are derived from the KGC's own signing key
  (HKDF, then Umbral's SecretKeyFactory under ``phr/group/<id>/v<version>``). Replacing
  the KGC key therefore replaces every group key; grants to the old keys must be made
  again (as after any key loss).
- Revoking a member rotates the key of every group he matched: grants made from then on
  use a key he never received. Existing grants keep the old key version (the patient is
  offline); what protects them is that every SRS node denies the revoked user's tokens
  and deletes his grants (``user.revoked``), so he gets no cfrags to use his copy with.
  Members receive every version, so grants made before a rotation stay readable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from kgc.errors import GroupNotFound, NotAGroupMember, SelectorInvalid
from kgc.store import KgcStore
from phr.crypto.canonical import canonical_json
from phr.crypto.pre import PrePublicKey, PreSecretKey, seal_to_key
from phr.crypto.primitives import hkdf_sha256
from phr.crypto.signing import SigningKey
from phr.identity.roles import STAFF
from phr.service.mongo import Document

log = structlog.get_logger("kgc.groups")

#: selector key as written by clients -> canonical key -> user document field
_KEYS: Final[Mapping[str, str]] = {
    "role": "role",
    "org": "org",
    "organisation_id": "org",
    "dept": "dept",
    "department": "dept",
}
_FIELDS: Final[Mapping[str, str]] = {
    "role": "role",
    "org": "organisation_id",
    "dept": "department",
}


def normalise_selector(selector: Mapping[str, str]) -> dict[str, str]:
    """Canonical keys (role, org, dept); refuses unknown keys, empty values, non-staff roles."""
    out: dict[str, str] = {}
    for key, value in selector.items():
        canonical = _KEYS.get(key)
        if canonical is None:
            raise SelectorInvalid(f"unknown selector key {key!r}: use role, org, dept")
        if not isinstance(value, str) or not value.strip():
            raise SelectorInvalid(f"selector {key!r} needs a value")
        if canonical in out and out[canonical] != value:
            raise SelectorInvalid(f"selector names {canonical!r} twice")
        out[canonical] = value.strip()
    if not out:
        raise SelectorInvalid("an empty selector would match everybody")
    if "role" in out and out["role"] not in STAFF:
        raise SelectorInvalid(f"groups are of staff; {out['role']!r} is not a staff role")
    return dict(sorted(out.items()))


def group_id_for(selector: Mapping[str, str]) -> str:
    """Stable id of a normalised selector (so creating a group is idempotent)."""
    return "grp_" + hashlib.sha256(canonical_json(dict(selector))).hexdigest()[:24]


def is_member(user: Document, selector: Mapping[str, str]) -> bool:
    """An active staff user whose attributes all equal the selector's."""
    if user.get("status") != "active" or user.get("role") not in STAFF:
        return False
    return all(user.get(_FIELDS[k]) == v for k, v in selector.items())


class GroupKeys:
    """Derives group key pairs from the KGC's key; keeps selectors and versions in Mongo."""

    def __init__(self, store: KgcStore, kgc_key: SigningKey) -> None:
        self.store = store
        self._seed = hkdf_sha256(
            kgc_key.seed(), salt=None, info=b"phr/kgc/group-keys/v1", length=32
        )

    def secret_key(self, group_id: str, version: int) -> PreSecretKey:
        return PreSecretKey.derive(self._seed, f"phr/group/{group_id}/v{version}".encode())

    def public_key(self, group_id: str, version: int) -> PrePublicKey:
        return self.secret_key(group_id, version).public_key()

    def view(self, doc: Document) -> dict[str, Any]:
        gid, version = doc["_id"], int(doc["version"])
        return {
            "group_id": gid,
            "selector": doc["selector"],
            "version": version,
            "public_key": self.public_key(gid, version).b64(),
            "public_keys": {str(v): self.public_key(gid, v).b64() for v in range(1, version + 1)},
        }

    async def create(self, selector: Mapping[str, str], by: str) -> tuple[Document, bool]:
        """The group of ``selector`` (created now: True; it existed: False)."""
        normal = normalise_selector(selector)
        gid = group_id_for(normal)
        doc: Document = {
            "_id": gid,
            "selector": normal,
            "version": 1,
            "created_by": by,
            "created_at": datetime.now(UTC),
        }
        created = await self.store.insert_group(doc)
        if created:
            log.info("group.created", group_id=gid, selector=normal)
        found = await self.store.get_group(gid)
        assert found is not None
        return found, created

    async def get(self, group_id: str) -> Document:
        doc = await self.store.get_group(group_id)
        if doc is None:
            raise GroupNotFound(f"no group {group_id}")
        return doc

    async def member_keys(self, group_id: str, user_id: str) -> dict[str, Any]:
        """Every version's group secret, each sealed to the member's Umbral key."""
        doc = await self.get(group_id)
        user = await self.store.get_user(user_id)
        if user is None or not is_member(user, doc["selector"]):
            raise NotAGroupMember("only active staff matching the group's selector get its key")
        member_pk = PrePublicKey.from_b64(user["umbral_public"])
        keys = []
        for version in range(1, int(doc["version"]) + 1):
            sk = self.secret_key(group_id, version)
            keys.append(
                {
                    "version": version,
                    "public_key": sk.public_key().b64(),
                    "sealed_secret": seal_to_key(member_pk, sk.to_bytes()).b64(),
                }
            )
        log.info("group.key_handed", group_id=group_id, user_id=user_id, versions=len(keys))
        return {"group_id": group_id, "user_id": user_id, "version": doc["version"], "keys": keys}

    async def rotate_for_revoked(self, user: Document) -> list[str]:
        """New key version for every group the revoked user matched (as he was)."""
        matched = {**user, "status": "active"}
        rotated = []
        for group in await self.store.all_groups():
            if is_member(matched, group["selector"]):
                await self.store.bump_group_version(group["_id"])
                rotated.append(group["_id"])
        if rotated:
            log.info("group.keys_rotated", user_id=user["_id"], groups=rotated)
        return rotated
