"""The KGC's persistence contract: what the use cases need, Mongo or memory behind it.

users       {_id: user id, role, organisation_id, department, display_name, status,
             ed25519_public, umbral_public, ed25519_fp, umbral_fp, enrolled_at,
             credential, approved_by, revoked_by, revoked_reason}
             unique: ed25519_fp, umbral_fp (a key belongs to one user: tracing relies on it)
orgs        {_id: org id, name (unique), kind, created_by, created_at}
challenges  {_id: nonce, user_id, expires_at}  expired ones are never returned
early_revocations  {_id: user id, revoked_by, revoked_reason}  revocations replayed ahead of
             the user's enrolment (:mod:`kgc.rebuild`)
groups      {_id: group id, selector, version, created_by, created_at, rotated_at}
outbox      events announcing a change, written in the change's transaction (see
            :mod:`phr.service.outbox`)

Implementations: :class:`kgc.mongo_store.MongoKgcStore`, :class:`kgc.memory.MemoryKgcStore`;
``services/kgc/tests/test_store_contract.py`` holds both to this contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from phr.service.mongo import Document


class Duplicate(Exception):
    """A unique index refused the write; ``field`` names which one."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class KgcStore(Protocol):
    """Users, organisations, login challenges, groups, and the outbox of their events."""

    async def insert_user(self, doc: Document, event: Document) -> None:
        """Insert the user and his outbox ``event`` atomically; :class:`Duplicate` (naming
        ``_id``, ``ed25519_fp`` or ``umbral_fp``) and nothing written if either exists."""
        ...

    async def get_user(self, user_id: str) -> Document | None:
        """The user's document as last written, or None."""
        ...

    async def user_by_fingerprint(self, field: str, fingerprint: str) -> Document | None:
        """The user whose ``field`` (``ed25519_fp`` or ``umbral_fp``) is ``fingerprint``."""
        ...

    async def find_users(self, selector: dict[str, Any], limit: int) -> list[Document]:
        """Users whose fields equal every ``selector`` value, by ascending id, at most
        ``limit``."""
        ...

    async def transition(
        self,
        user_id: str,
        *,
        from_status: list[str],
        update: dict[str, Any],
        events: Sequence[Document] = (),
    ) -> Document | None:
        """If the user's status is one of ``from_status``: set ``update`` and write the
        outbox ``events``, atomically, and return the new document; else None and
        nothing written (a concurrent or repeated transition changes nothing)."""
        ...

    async def add_events(self, events: Sequence[Document]) -> None:
        """Write outbox ``events``; one whose ``_id`` exists already is skipped (that
        change was announced before)."""
        ...

    async def note_revocation(self, user_id: str, doc: Document) -> None:
        """Remember a revocation seen before the user's enrolment (``revoked_by``,
        ``revoked_reason``); a second note of the same user keeps the first."""
        ...

    async def noted_revocation(self, user_id: str) -> Document | None:
        """The revocation noted for ``user_id``, or None."""
        ...

    async def insert_org(self, doc: Document, event: Document | None = None) -> None:
        """Insert the organisation (with its outbox ``event``, atomically, if given);
        :class:`Duplicate` (``_id`` or ``name``) and nothing written if taken."""
        ...

    async def restore_user(self, doc: Document) -> bool:
        """Insert a user rebuilt from his ``user.enrolled`` event, with no outbox event;
        False (nothing written) if his id or one of his keys is taken already."""
        ...

    async def get_org(self, org_id: str) -> Document | None: ...

    async def list_orgs(self, limit: int) -> list[Document]:
        """Organisations by ascending name, at most ``limit``."""
        ...

    async def put_challenge(self, nonce: str, user_id: str, expires_at: datetime) -> None:
        """Remember a login challenge until ``expires_at``."""
        ...

    async def take_challenge(self, nonce: str, user_id: str) -> Document | None:
        """Remove and return the unexpired challenge ``nonce`` of ``user_id``; a nonce is
        taken at most once, whoever asks first."""
        ...

    async def insert_group(self, doc: Document) -> bool:
        """Insert; False (and nothing changed) if the group id exists already."""
        ...

    async def get_group(self, group_id: str) -> Document | None: ...

    async def all_groups(self) -> list[Document]: ...

    async def bump_group_version(self, group_id: str) -> None:
        """Add one to the group's ``version`` and set ``rotated_at``; no-op if unknown."""
        ...

    async def unsent_events(self) -> list[Document]:
        """Outbox documents not relayed yet, oldest first (for checks and tests)."""
        ...
