"""Grants: the patient (or his delegate) gives read access to segments; owner-api checks,
records the ACL and announces ``acl.granted`` / ``acl.revoked`` through the outbox.

A grant goes to one user (kfrags to his Umbral key) or to a KGC group (kfrags to the
group's key; see ``kgc.groups``), with an optional window (``not_before``,
``expires_at``), purpose, and ``data_from`` (by default a grantee reads past records
too). Each granted segment needs a key grant for its *current* key version; key grants
for older versions may come along so that records not re-wrapped stay readable.

Exactly once: the grant document and its outbox event are one Mongo transaction; a
retry with the same ``grant_id`` and the same terms answers the stored grant and emits
nothing. The terms are the body without its key grants' kfrags and signed documents
(:func:`grant_terms_sha256`): a client that retries after a timeout makes fresh random
kfrags for the same terms, and that is the same grant (the first attempt's kfrags stay).
After a key rotation the SDK adds key grants for the new version
(:meth:`GrantService.add_key_grants`), announced as ``acl.granted`` again with the same
``grant_id`` (SRS nodes merge key grants by segment and version).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from datetime import UTC, datetime

import structlog

from owner_api.errors import (
    GrantConflict,
    GranteeNotFound,
    GrantInvalid,
    GrantNotFound,
    NotDelegated,
)
from owner_api.sharing.delegations import acting_for, check_segments
from owner_api.sharing.directory import Directory
from owner_api.sharing.grant_checks import GrantTerms, check_key_grants
from owner_api.sharing.revocation import RevocationWatch
from owner_api.store import AclStore, owned_key
from phr.api.owner import GrantIn, KeyGrantIn
from phr.crypto.canonical import canonical_json
from phr.events.acl import AclGranted, AclRevoked, SegmentKeyGrant
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from phr.service.outbox import EventMaker, outbox_doc

log = structlog.get_logger("owner_api.sharing.grants")


def grant_terms_sha256(body: GrantIn) -> str:
    """SHA-256 of what a grant says (grantee, segments, window, purpose, threshold and the
    key versions it covers), not of the random kfrags one attempt made for it."""
    terms = body.model_dump(mode="json", exclude={"key_grants"})
    terms["key_versions"] = sorted([kg.segment, kg.key_version] for kg in body.key_grants)
    return hashlib.sha256(canonical_json(terms)).hexdigest()


def _versions_key(versions: list[tuple[str, int, str]]) -> str:
    return "+".join(sorted(f"{s}.v{v}" for s, v, _ in versions))


def _key_grants(key_grants: list[KeyGrantIn]) -> list[SegmentKeyGrant]:
    return [
        SegmentKeyGrant(
            segment=kg.segment,
            key_version=kg.key_version,
            signed_grant=kg.signed_grant,
            sealed_kfrags=kg.sealed_kfrags,
        )
        for kg in key_grants
    ]


class GrantService:
    def __init__(
        self,
        store: AclStore,
        directory: Directory,
        make_event: EventMaker,
        *,
        nodes: Collection[str],
        on_outbox: Callable[[], None] = lambda: None,
        watch: RevocationWatch | None = None,
    ) -> None:
        self.store = store
        #: waits for the SRS nodes to apply a revocation (None: not waited for)
        self.watch = watch
        self.directory = directory
        self.make_event = make_event
        #: SRS node ids of the deployment: each key grant carries one kfrag per node
        self.nodes = frozenset(nodes)
        self._on_outbox = on_outbox

    # ---------------------------------------------------------------- grant

    async def _grantee(self, body: GrantIn) -> tuple[str, frozenset[str], dict[str, str] | None]:
        """(grantee id in the documents, acceptable receiving keys, group selector)."""
        if (body.grantee_user_id is None) == (body.group_id is None):
            raise GrantInvalid("name either grantee_user_id or group_id")
        if body.grantee_user_id is not None:
            user = await self.directory.user(body.grantee_user_id)
            if user is None or user.get("status") != "active":
                raise GranteeNotFound(f"no active user {body.grantee_user_id}")
            return body.grantee_user_id, frozenset({user["umbral_public"]}), None
        assert body.group_id is not None
        group = await self.directory.group(body.group_id)
        if group is None:
            raise GranteeNotFound(f"no group {body.group_id}")
        return body.group_id, frozenset(group["public_keys"].values()), dict(group["selector"])

    async def grant(
        self, caller: Principal, patient_id: str, body: GrantIn
    ) -> tuple[Document, bool]:
        """The recorded grant (created now: True; an identical retry: False)."""
        segments = check_segments(body.segments, GrantInvalid)
        actor, on_behalf_of = await acting_for(self.store, caller, patient_id, segments)
        digest = grant_terms_sha256(body)
        existing = await self.store.get_grant(patient_id, body.grant_id)
        if existing is not None:
            if existing["content_sha256"] != digest:
                raise GrantConflict(f"grant id {body.grant_id} was used with other content")
            return existing, False
        if body.expires_at and body.not_before and body.expires_at <= body.not_before:
            raise GrantInvalid("expires_at must come after not_before")
        patient = await self.store.patient(patient_id)
        if body.emergency:
            allowed = set(patient.get("emergency_segments", []))
            if body.group_id is None or not set(segments) <= allowed:
                raise GrantInvalid(
                    "an emergency grant goes to a group, for the patient's emergency segments"
                )
        grantee_id, receiving, selector = await self._grantee(body)
        if caller.key_fp is None:
            raise GrantInvalid("the access token names no signing key")
        terms = GrantTerms(
            patient_id=patient_id,
            grant_id=body.grant_id,
            grantee_id=grantee_id,
            receiving_pks=receiving,
            segments=frozenset(segments),
            threshold=body.threshold,
            author_fp=caller.key_fp,
            not_before=body.not_before,
            expires_at=body.expires_at,
        )
        checked = check_key_grants(body.key_grants, terms, self.nodes)
        if len({pk for _, _, pk in checked}) != 1:
            raise GrantInvalid("every key grant of one grant goes to the same receiving key")
        current = patient.get("versions", {})
        have = {(s, v) for s, v, _ in checked}
        missing = [s for s in segments if (s, int(current.get(s, 1))) not in have]
        if missing:
            raise GrantInvalid(f"no key grant for the current key version of {missing}")
        too_new = [f"{s} v{v}" for s, v, _ in checked if v > int(current.get(s, 1))]
        if too_new:
            raise GrantInvalid(f"key versions not in use yet: {too_new}")
        now = datetime.now(UTC)
        doc: Document = {
            "_id": owned_key(patient_id, body.grant_id),
            "patient_id": patient_id,
            "grant_id": body.grant_id,
            "grantee_user_id": body.grantee_user_id,
            "grantee_group": selector,
            "group_id": body.group_id,
            "receiving_pk": checked[0][2],
            "segments": segments,
            "not_before": body.not_before,
            "expires_at": body.expires_at,
            "data_from": body.data_from,
            "purpose": body.purpose,
            "emergency": body.emergency,
            "threshold": body.threshold,
            "key_versions": [{"segment": s, "key_version": v} for s, v, _ in checked],
            "granted_by": actor,
            "on_behalf_of": on_behalf_of,
            "status": "active",
            "content_sha256": digest,
            "created_at": now,
        }
        event = outbox_doc(
            self.make_event,
            "acl.granted",
            self._event(doc, body.key_grants),
            subject=patient_id,
            key=f"{patient_id}/{body.grant_id}/{_versions_key(checked)}",
        )
        if not await self.store.insert_grant(doc, event):
            # A concurrent twin won: answer as for a retry (or a conflict).
            again = await self.store.get_grant(patient_id, body.grant_id)
            if again is None or again["content_sha256"] != digest:
                raise GrantConflict(f"grant id {body.grant_id} was used with other content")
            return again, False
        self._on_outbox()
        log.info(
            "grant.recorded",
            patient_id=patient_id,
            grant_id=body.grant_id,
            segments=segments,
            group=body.group_id,
            on_behalf_of=on_behalf_of,
        )
        return doc, True

    @staticmethod
    def _event(doc: Document, key_grants: list[KeyGrantIn]) -> AclGranted:
        return AclGranted(
            grant_id=doc["grant_id"],
            patient_id=doc["patient_id"],
            grantee_user_id=doc["grantee_user_id"],
            grantee_group=doc["grantee_group"],
            segments=doc["segments"],
            not_before=doc["not_before"],
            expires_at=doc["expires_at"],
            data_from=doc["data_from"],
            purpose=doc["purpose"],
            emergency=doc["emergency"],
            threshold=doc["threshold"],
            key_grants=_key_grants(key_grants),
            granted_by=doc["granted_by"],
            on_behalf_of=doc["on_behalf_of"],
        )

    # ---------------------------------------------------------------- new key versions

    async def add_key_grants(
        self, caller: Principal, patient_id: str, grant_id: str, key_grants: list[KeyGrantIn]
    ) -> Document:
        """Key grants for newer key versions of an active grant; ``acl.granted`` again."""
        doc = await self.get(caller, patient_id, grant_id)
        if doc["status"] != "active":
            raise GrantConflict(f"grant {grant_id} is {doc['status']}")
        actor, on_behalf_of = await acting_for(self.store, caller, patient_id, doc["segments"])
        if caller.key_fp is None:
            raise GrantInvalid("the access token names no signing key")
        terms = GrantTerms(
            patient_id=patient_id,
            grant_id=grant_id,
            grantee_id=doc["grantee_user_id"] or doc["group_id"],
            receiving_pks=frozenset({doc["receiving_pk"]}),
            segments=frozenset(doc["segments"]),
            threshold=doc["threshold"],
            author_fp=caller.key_fp,
            not_before=doc["not_before"],
            expires_at=doc["expires_at"],
        )
        checked = check_key_grants(key_grants, terms, self.nodes)
        held = {(k["segment"], k["key_version"]) for k in doc["key_versions"]}
        if all((s, v) in held for s, v, _ in checked):
            return doc  # a retry: nothing new
        current = (await self.store.patient(patient_id)).get("versions", {})
        too_new = [f"{s} v{v}" for s, v, _ in checked if v > int(current.get(s, 1))]
        if too_new:
            raise GrantInvalid(f"key versions not in use yet: {too_new}")
        data = self._event(doc, key_grants).model_copy(
            update={"granted_by": actor, "on_behalf_of": on_behalf_of}
        )
        event = outbox_doc(
            self.make_event,
            "acl.granted",
            data,
            subject=patient_id,
            key=f"{patient_id}/{grant_id}/{_versions_key(checked)}",
        )
        versions = [{"segment": s, "key_version": v} for s, v, _ in checked]
        if await self.store.add_key_versions(patient_id, grant_id, versions, event):
            self._on_outbox()
            log.info("grant.key_versions_added", grant_id=grant_id, versions=versions)
        return await self.get(caller, patient_id, grant_id)

    # ---------------------------------------------------------------- revoke, list

    async def revoke(
        self, caller: Principal, patient_id: str, grant_id: str
    ) -> tuple[Document, bool]:
        """Revoke (idempotent: a revoked grant yields no second ``acl.revoked``) and wait
        until the SRS nodes enforce it. Returns the grant and whether they do (False:
        recorded and emitted, but too few nodes confirmed before the deadline)."""
        doc = await self.get(caller, patient_id, grant_id)
        actor, on_behalf_of = await acting_for(self.store, caller, patient_id, doc["segments"])
        if doc["status"] == "active":
            data = AclRevoked(
                grant_id=grant_id,
                patient_id=patient_id,
                revoked_by=actor,
                on_behalf_of=on_behalf_of,
            )
            event = outbox_doc(
                self.make_event,
                "acl.revoked",
                data,
                subject=patient_id,
                key=f"{patient_id}/{grant_id}",
            )
            update = {
                "revoked_at": datetime.now(UTC),
                "revoked_by": actor,
                "revoked_on_behalf_of": on_behalf_of,
            }
            if await self.store.revoke_grant(patient_id, grant_id, update, event):
                self._on_outbox()
                log.info("grant.revoked", patient_id=patient_id, grant_id=grant_id, by=actor)
            doc = await self.get(caller, patient_id, grant_id)
        # a retried revoke (the first one timed out) waits again
        enforced = self.watch is None or await self.watch.enforced(
            patient_id, grant_id, int(doc["threshold"])
        )
        return doc, enforced

    async def get(self, caller: Principal, patient_id: str, grant_id: str) -> Document:
        await self._may_read(caller, patient_id)
        doc = await self.store.get_grant(patient_id, grant_id)
        if doc is None:
            raise GrantNotFound(f"no grant {grant_id} of this patient")
        return doc

    async def list(self, caller: Principal, patient_id: str) -> list[Document]:
        await self._may_read(caller, patient_id)
        return await self.store.list_grants(patient_id)

    async def _may_read(self, caller: Principal, patient_id: str) -> None:
        """The patient, any active delegate of his, or a service."""
        if caller.is_service:
            return
        try:
            await acting_for(self.store, caller, patient_id, ())
        except NotDelegated:
            raise NotDelegated("only the patient or his delegates see his grants") from None
