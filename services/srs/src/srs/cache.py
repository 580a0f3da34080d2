"""The re-encryption path's reads, kept in memory until this node applies its next event.

A re-encryption reads the caller's user entry, the record, the patient's grants and one
key grant per segment, then unseals and verifies the kfrag (about 0.5 ms of Umbral and
X25519 work) and parses the capsule. All of it changes only when this node applies an
event (grants, revocations, uploads, users), and this node's state is written only by
its own consumer. So the consumer calls :meth:`ReadCache.invalidate` after each event's
transaction commits, and every read since then is served from memory.

Why a read racing an event cannot leave a stale entry: each read notes the generation
before going to the store and keeps its result only if no invalidation happened
meanwhile; an invalidation clears everything and bumps the generation. A revocation
therefore takes effect at the first request after its transaction commits, as without
the cache, and the unsealed kfrag leaves memory at the same moment.

``capacity=0`` turns caching off (every read goes to the store).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from phr.crypto.grants import GrantDocument
from phr.crypto.pre import KeyCapsule, VerifiedKeyFrag
from phr.crypto.reencrypt import open_sealed_kfrag
from srs.models import GrantInfo, KeyGrant, RecordInfo, UserInfo
from srs.store import Store
from srs.verification import NodeIdentity

T = TypeVar("T")
DEFAULT_CAPACITY = 20_000


@dataclass(frozen=True)
class ReadyGrant:
    """A key grant whose kfrag is unsealed and verified against its signed document."""

    key_grant: KeyGrant
    document: GrantDocument
    kfrag: VerifiedKeyFrag


class ReadCache:
    def __init__(self, store: Store, node: NodeIdentity, *, capacity: int = DEFAULT_CAPACITY):
        self.store = store
        self.node = node
        self.capacity = capacity
        self.generation = 0
        self._entries: dict[Hashable, Any] = {}
        self.hits = 0
        self.misses = 0

    def invalidate(self, *_: Any) -> None:
        """Forget everything (called after each applied event has committed)."""
        self.generation += 1
        self._entries.clear()

    async def _get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        if key in self._entries:
            self.hits += 1
            value: T = self._entries[key]
            return value
        self.misses += 1
        generation = self.generation
        value = await load()
        if self.capacity and generation == self.generation:
            if len(self._entries) >= self.capacity:
                self._entries.clear()  # crude, and rare: a working set this big is odd
            self._entries[key] = value
        return value

    async def get_user(self, user_id: str) -> UserInfo | None:
        return await self._get(("user", user_id), lambda: self.store.get_user(user_id))

    async def get_record(self, patient_id: str, record_id: str) -> RecordInfo | None:
        return await self._get(
            ("record", patient_id, record_id),
            lambda: self.store.get_record(patient_id, record_id),
        )

    async def grants_for_patient(self, patient_id: str) -> list[GrantInfo]:
        grants = await self._get(
            ("grants", patient_id),
            lambda: self._tuple(self.store.grants_for_patient(patient_id)),
        )
        return list(grants)

    async def ready_grant(
        self, patient_id: str, grant_id: str, segment: str, key_version: int
    ) -> ReadyGrant | None:
        """The key grant with its kfrag unsealed and verified, or None if there is none
        (revoked). Raises what :func:`open_sealed_kfrag` raises for a bad kfrag."""

        async def load() -> ReadyGrant | None:
            key_grant = await self.store.key_grant(patient_id, grant_id, segment, key_version)
            if key_grant is None:
                return None
            document = GrantDocument.model_validate(key_grant.signed_grant["grant"])
            verifying, delegating, receiving = document.keys()
            kfrag = open_sealed_kfrag(
                self.node.secret,
                node_id=self.node.node_id,
                grant_id=document.grant_id,
                sealed_kfrag=key_grant.sealed_kfrag.to_bytes(),
                verifying_pk=verifying,
                delegating_pk=delegating,
                receiving_pk=receiving,
            )
            return ReadyGrant(key_grant, document, kfrag)

        return await self._get(("kfrag", patient_id, grant_id, segment, key_version), load)

    def capsule(self, text: str) -> KeyCapsule:
        """A record's capsule (base64url), parsed once."""
        key = ("capsule", text)
        found = self._entries.get(key)
        if found is None:
            found = KeyCapsule.from_b64(text)
            if self.capacity:
                self._entries[key] = found
        assert isinstance(found, KeyCapsule)
        return found

    @staticmethod
    async def _tuple(values: Awaitable[list[GrantInfo]]) -> tuple[GrantInfo, ...]:
        return tuple(await values)
