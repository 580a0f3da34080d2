"""Enrolment, approval, revocation and lookup of users and organisations.

Every change that announces an event writes it to the outbox in the change's own
transaction (:mod:`phr.service.outbox`); the relay publishes it, so an event is never
lost between the write and Kafka, and a request never fails because Kafka is down.
Enrolment is the hot path: one signature check (proof of possession), one credential
signature, one transaction (user and event).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from kgc.errors import (
    InvalidKey,
    KeyAlreadyEnrolled,
    NotPending,
    NotYourOrganisation,
    OrganisationExists,
    OrganisationNotFound,
    ProofInvalid,
    UserNotFound,
)
from kgc.store import Duplicate, KgcStore
from phr.api.kgc import EnrolRequest, OrgCreate
from phr.crypto.errors import FormatError
from phr.crypto.pre import PrePublicKey
from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey, b64u_decode
from phr.events.users import OrganisationCreated, UserApproved, UserEnrolled, UserRevoked
from phr.identity.credentials import Credential, SignedCredential, sign_credential
from phr.identity.proofs import enrolment_message
from phr.identity.roles import AUDITOR, SELF_ENROLLING
from phr.identity.tokens import Principal
from phr.service.auth import Authenticator
from phr.service.mongo import Document
from phr.service.outbox import EventMaker, outbox_doc

log = structlog.get_logger("kgc.users")

#: publishes outbox events just committed (``OutboxRelay.dispatch``)
Announce = Callable[[Sequence[Document]], Awaitable[None]]

#: the operator's fixed user id; the only admin without an organisation
OPERATOR_ID = "u_operator"


def new_user_id() -> str:
    return "u_" + secrets.token_hex(10)


def is_operator(principal: Principal) -> bool:
    return principal.role == "admin" and principal.org is None


class Directory:
    """Users and organisations; emits the user.* events."""

    def __init__(
        self,
        store: KgcStore,
        make_event: EventMaker,
        auth: Authenticator,
        *,
        key: SigningKey,
        credential_ttl_s: int,
        announce: Announce | None = None,
    ) -> None:
        self.store = store
        self.make_event = make_event
        self.auth = auth
        self.key = key
        self.credential_ttl_s = credential_ttl_s
        #: awaited with the outbox events a change has just committed: publishes them at
        #: once (briefly, never failing: what it cannot publish the relay sends later)
        self.announce = announce
        self._known_orgs: set[str] = set()
        #: called with the revoked user's document after his revocation is emitted
        self.revocation_hooks: list[Callable[[Document], Awaitable[Any]]] = []

    # ---------------------------------------------------------------- credentials

    def credential_for(self, doc: Document) -> SignedCredential:
        now = int(time.time())
        return sign_credential(
            Credential(
                user_id=doc["_id"],
                role=doc["role"],
                organisation_id=doc.get("organisation_id"),
                department=doc.get("department"),
                ed25519_fingerprint=doc["ed25519_fp"],
                umbral_fingerprint=doc["umbral_fp"],
                issued_at=now,
                expires_at=now + self.credential_ttl_s,
            ),
            self.key,
        )

    # ---------------------------------------------------------------- enrolment

    async def enrol(self, req: EnrolRequest, correlation_id: str | None) -> Document:
        try:
            vk = VerifyKey.from_b64(req.ed25519_public)
            pre = PrePublicKey.from_b64(req.umbral_public)
        except (ValueError, FormatError) as exc:
            raise InvalidKey(str(exc)) from None
        message = enrolment_message(
            role=req.role,
            organisation_id=req.organisation_id,
            department=req.department,
            ed25519_public=req.ed25519_public,
            umbral_public=req.umbral_public,
        )
        try:
            vk.verify(b64u_decode(req.proof), message)
        except (SignatureInvalid, ValueError):
            raise ProofInvalid("proof is not signed by the enrolled Ed25519 key") from None
        self_enrolling = req.role in SELF_ENROLLING
        if not self_enrolling:
            if req.organisation_id is None:
                raise OrganisationNotFound(f"role {req.role} enrols into an organisation")
            await self.require_org(req.organisation_id)
        doc: Document = {
            "_id": new_user_id(),
            "role": req.role,
            "organisation_id": None if self_enrolling else req.organisation_id,
            "department": req.department,
            "display_name": req.display_name,
            "status": "active" if self_enrolling else "pending",
            "ed25519_public": req.ed25519_public,
            "umbral_public": req.umbral_public,
            "ed25519_fp": vk.fingerprint(),
            "umbral_fp": pre.fingerprint(),
            "enrolled_at": datetime.now(UTC),
            "credential": None,
        }
        if self_enrolling:
            doc["credential"] = self.credential_for(doc).model_dump(mode="json")
        await self.insert(doc, correlation_id)
        return doc

    async def insert(self, doc: Document, correlation_id: str | None) -> None:
        """Insert the user with his ``user.enrolled`` event; KeyAlreadyEnrolled if taken."""
        enrolled = self._enrolled(doc, correlation_id)
        try:
            await self.store.insert_user(doc, enrolled)
        except Duplicate as exc:
            raise KeyAlreadyEnrolled(f"this key is already enrolled ({exc.field})") from None
        await self._announce([enrolled])

    async def _announce(self, events: Sequence[Document]) -> None:
        if self.announce is not None:
            await self.announce(events)

    def event(
        self, type: str, data: Any, *, user_id: str, key: str, correlation_id: str | None
    ) -> Document:
        """The outbox document of one change about ``user_id`` (the subject and Kafka key:
        a user's or, for ``organisation.created``, an organisation's id)."""
        return outbox_doc(
            self.make_event,
            type,
            data,
            subject=user_id,
            key=key,
            correlation_id=correlation_id,
        )

    def _enrolled(self, doc: Document, correlation_id: str | None) -> Document:
        return self.event(
            "user.enrolled",
            UserEnrolled(
                user_id=doc["_id"],
                role=doc["role"],
                organisation_id=doc["organisation_id"],
                department=doc["department"],
                status=doc["status"],
                ed25519_fingerprint=doc["ed25519_fp"],
                umbral_fingerprint=doc["umbral_fp"],
                ed25519_public=doc["ed25519_public"],
                umbral_public=doc["umbral_public"],
            ),
            user_id=doc["_id"],
            key=doc["_id"],
            correlation_id=correlation_id,
        )

    # ---------------------------------------------------------------- lookups

    async def get(self, user_id: str) -> Document:
        doc = await self.store.get_user(user_id)
        if doc is None:
            raise UserNotFound(f"no user {user_id}")
        return doc

    async def find(self, selector: dict[str, str], limit: int) -> list[Document]:
        return await self.store.find_users(selector, limit)

    # ---------------------------------------------------------------- approval, revocation

    @staticmethod
    def may_act_on(admin: Principal, target: Document) -> bool:
        """The one rule for an admin's actions on a user (approve, revoke, trace): the
        operator acts on anyone; an organisation's admin only on its members."""
        if is_operator(admin):
            return True
        return admin.org is not None and admin.org == target.get("organisation_id")

    def _authorise(self, admin: Principal, target: Document) -> None:
        if not self.may_act_on(admin, target):
            raise NotYourOrganisation("an admin acts only within his own organisation")

    async def approve(self, user_id: str, admin: Principal, correlation_id: str | None) -> Document:
        target = await self.get(user_id)
        self._authorise(admin, target)
        if target["role"] == AUDITOR and not is_operator(admin):
            raise NotYourOrganisation("only the operator approves an auditor")
        if target["status"] != "pending":
            raise NotPending(f"user {user_id} is {target['status']}, not pending")
        credential = self.credential_for(target).model_dump(mode="json")
        approved = self.event(
            "user.approved",
            UserApproved(user_id=user_id, approved_by=admin.sub),
            user_id=user_id,
            key=user_id,
            correlation_id=correlation_id,
        )
        updated = await self.store.transition(
            user_id,
            from_status=["pending"],
            update={"status": "active", "approved_by": admin.sub, "credential": credential},
            events=[approved],
        )
        if updated is None:
            raise NotPending(f"user {user_id} is no longer pending")
        await self._announce([approved])
        log.info("user.approved", user_id=user_id, approved_by=admin.sub)
        return updated

    async def revoke(
        self,
        user_id: str,
        *,
        by: str,
        reason: str,
        correlation_id: str | None,
        admin: Principal | None = None,
        also: Sequence[Document] = (),
    ) -> Document:
        """Revoke, with the ``user.revoked`` event (and the outbox events ``also``) in the
        same transaction. Idempotent: the revocation of an already revoked user was
        announced already (its event is in the outbox since that transaction), so a
        retry returns the user as he is and writes no second event."""
        target = await self.get(user_id)
        if admin is not None:
            self._authorise(admin, target)
        if target["_id"] == OPERATOR_ID:
            raise NotYourOrganisation("the operator cannot be revoked through the API")
        revoked = self.event(
            "user.revoked",
            UserRevoked(user_id=user_id, revoked_by=by, reason=reason),
            user_id=user_id,
            key=user_id,
            correlation_id=correlation_id,
        )
        updated = await self.store.transition(
            user_id,
            from_status=["active", "pending"],
            update={"status": "revoked", "revoked_by": by, "revoked_reason": reason},
            events=[*also, revoked],
        )
        if updated is None:
            if also:
                await self.store.add_events(also)
                await self._announce([])  # the relay sends what was new
            if target["status"] == "revoked":
                self.auth.revoke(user_id)
            return target
        self.auth.revoke(user_id)
        await self._announce([*also, revoked])
        log.info("user.revoked", user_id=user_id, revoked_by=by)
        for hook in self.revocation_hooks:
            await hook(updated)
        return updated

    # ---------------------------------------------------------------- organisations

    async def create_org(self, req: OrgCreate, by: str) -> Document:
        doc: Document = {
            "_id": "org_" + secrets.token_hex(6),
            "name": req.name,
            "kind": req.kind,
            "created_by": by,
            "created_at": datetime.now(UTC),
        }
        created = self.event(
            "organisation.created",
            OrganisationCreated(
                organisation_id=doc["_id"], name=req.name, kind=req.kind, created_by=by
            ),
            user_id=doc["_id"],
            key=doc["_id"],
            correlation_id=None,
        )
        try:
            await self.store.insert_org(doc, created)
        except Duplicate:
            raise OrganisationExists(f"an organisation named {req.name!r} exists") from None
        await self._announce([created])
        self._known_orgs.add(doc["_id"])
        log.info("organisation.created", organisation_id=doc["_id"], kind=req.kind)
        return doc

    async def require_org(self, org_id: str) -> None:
        # Organisations are never deleted, so a positive lookup can be cached.
        if org_id in self._known_orgs:
            return
        if await self.store.get_org(org_id) is None:
            raise OrganisationNotFound(f"no organisation {org_id}")
        self._known_orgs.add(org_id)

    async def get_org(self, org_id: str) -> Document:
        doc = await self.store.get_org(org_id)
        if doc is None:
            raise OrganisationNotFound(f"no organisation {org_id}")
        return doc

    async def list_orgs(self, limit: int) -> list[Document]:
        return await self.store.list_orgs(limit)


def parse_selector(
    selector: str | None, *, role: str | None, org: str | None, dept: str | None, status: str | None
) -> dict[str, Any]:
    """``role=doctor,org=X,dept=Y`` (and/or query parameters) -> a Mongo filter."""
    names = {"role": "role", "org": "organisation_id", "organisation_id": "organisation_id"}
    names |= {"dept": "department", "department": "department", "status": "status"}
    out: dict[str, Any] = {}
    for part in (selector or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        term = names.get(name.strip())
        if not sep or term is None or not value.strip():
            raise ValueError(f"bad selector term {part!r}: use role=,org=,dept=,status=")
        out[term] = value.strip()
    for field, given in (
        ("role", role),
        ("organisation_id", org),
        ("department", dept),
        ("status", status),
    ):
        if given is not None:
            out[field] = given
    return out
