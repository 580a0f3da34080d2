"""Delegation: a patient names a caregiver or guardian who manages grants for him.

Within the segments the patient names, and until the patient ends it, the delegate may
grant and revoke for him; every action records both (``granted_by`` = the delegate,
``on_behalf_of`` = the patient, in events and in the grant listing). SRS nodes learn
the delegation from ``delegation.changed`` and accept grant documents signed by the
delegate's own enrolled key for those segments only.

How a delegate can grant at all: kfrags are made from the segment *secret* key, which
only the patient's master secret yields. The patient's SDK therefore hands the delegate,
when delegating, the segment secret keys of the delegated segments (every key version
so far), each sealed to the delegate's Umbral public key (``sealed_keys``; owner-api
stores ciphertext it cannot open and serves it only to that delegate). The delegate
makes kfrags from them and signs them with his own Umbral key. Consequences, stated:

- a delegate can also *read* the delegated segments (he holds their keys): delegation
  is trust, as a guardian's or caregiver's role is;
- the delegate never receives the master secret, so he cannot rotate keys, and holds no
  key of a segment outside his scope;
- after a rotation the patient's SDK seals the new version to every active delegate
  again (``SharingClient.rotate``); ending a delegation rotates the delegated segments
  by default, so the former delegate's keys open nothing written afterwards (and, with
  re-wrapping, nothing at all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import structlog

from owner_api.errors import (
    DelegationInvalid,
    DelegationNotFound,
    GranteeNotFound,
    NotDelegated,
)
from owner_api.sharing.directory import Directory
from owner_api.store import AclStore
from phr.api.ids import delegation_id as make_delegation_id
from phr.api.owner import DelegationIn
from phr.crypto.errors import FormatError
from phr.crypto.pre import KeyCapsule
from phr.events.acl import DelegationChanged
from phr.fhir.segments import SEGMENTS
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from phr.service.outbox import EventMaker, outbox_doc

log = structlog.get_logger("owner_api.sharing.delegations")

#: roles that may be named delegates (a guardian may himself be a patient)
DELEGATE_ROLES = frozenset({"caregiver", "patient"})


def is_patient(caller: Principal, patient_id: str) -> bool:
    return caller.role == "patient" and caller.sub == patient_id


def check_segments(segments: Iterable[str], error: type[Exception]) -> list[str]:
    names = list(dict.fromkeys(segments))
    unknown = sorted(set(names) - set(SEGMENTS))
    if unknown:
        raise error(f"unknown segments {unknown}; known: {list(SEGMENTS)}")
    return names


async def acting_for(
    store: AclStore, caller: Principal, patient_id: str, segments: Iterable[str]
) -> tuple[str, str | None]:
    """(who acts, on whose behalf): the patient himself, or his active delegate whose
    scope covers every segment; :class:`NotDelegated` otherwise."""
    if is_patient(caller, patient_id):
        return caller.sub, None
    delegation = await store.get_delegation(patient_id, caller.sub)
    if delegation is None or not delegation["active"]:
        raise NotDelegated("only the patient or an active delegate may manage his grants")
    outside = sorted(set(segments) - set(delegation["segments"]))
    if outside:
        raise NotDelegated(f"segments {outside} are outside the delegation")
    return caller.sub, patient_id


class DelegationService:
    def __init__(
        self,
        store: AclStore,
        directory: Directory,
        make_event: EventMaker,
        *,
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.directory = directory
        self.make_event = make_event
        self._on_outbox = on_outbox

    async def put(
        self, caller: Principal, patient_id: str, delegate_id: str, body: DelegationIn
    ) -> Document:
        """Name (or re-scope) a delegate; emits ``delegation.changed`` (active)."""
        if not is_patient(caller, patient_id):
            raise NotDelegated("only the patient himself names delegates")
        segments = check_segments(body.segments, DelegationInvalid)
        if delegate_id == patient_id:
            raise DelegationInvalid("a patient cannot delegate to himself")
        user = await self.directory.user(delegate_id)
        if user is None or user.get("status") != "active":
            raise GranteeNotFound(f"no active user {delegate_id}")
        if user.get("role") not in DELEGATE_ROLES:
            raise DelegationInvalid(f"delegates are caregivers or patients, not {user['role']}")
        for segment, versions in body.sealed_keys.items():
            if segment not in segments:
                raise DelegationInvalid(f"a sealed key for {segment}, outside the delegation")
            for version, sealed in versions.items():
                try:
                    KeyCapsule.from_b64(sealed)
                    int(version)
                except (FormatError, ValueError):
                    raise DelegationInvalid(f"malformed sealed key {segment} v{version}") from None
        return await self._change(caller, patient_id, delegate_id, segments, body.sealed_keys, True)

    async def end(self, caller: Principal, patient_id: str, delegate_id: str) -> Document:
        """End a delegation (idempotent); emits ``delegation.changed`` (inactive) once."""
        if not is_patient(caller, patient_id):
            raise NotDelegated("only the patient himself ends a delegation")
        doc = await self.store.get_delegation(patient_id, delegate_id)
        if doc is None:
            raise DelegationNotFound(f"no delegation to {delegate_id}")
        if not doc["active"]:
            return doc
        return await self._change(caller, patient_id, delegate_id, doc["segments"], {}, False)

    async def _change(
        self,
        caller: Principal,
        patient_id: str,
        delegate_id: str,
        segments: list[str],
        sealed_keys: dict[str, dict[str, str]],
        active: bool,
    ) -> Document:
        now = datetime.now(UTC)
        delegation_id = make_delegation_id(patient_id, delegate_id)
        doc: Document = {
            "_id": delegation_id,
            "delegation_id": delegation_id,
            "patient_id": patient_id,
            "delegate_user_id": delegate_id,
            "segments": segments,
            "active": active,
            # an ended delegation keeps no key material
            "sealed_keys": sealed_keys if active else {},
            "changed_by": caller.sub,
            "changed_at": now,
        }
        data = DelegationChanged(
            delegation_id=delegation_id,
            patient_id=patient_id,
            delegate_user_id=delegate_id,
            segments=segments,
            active=active,
            changed_by=caller.sub,
        )
        event = outbox_doc(
            self.make_event,
            "delegation.changed",
            data,
            subject=patient_id,
            key=f"{delegation_id}@{now.isoformat()}",
        )
        await self.store.put_delegation(doc, event)
        self._on_outbox()
        log.info("delegation.changed", patient_id=patient_id, delegate=delegate_id, active=active)
        return doc

    async def list(self, caller: Principal, patient_id: str) -> list[Document]:
        if not is_patient(caller, patient_id):
            raise NotDelegated("only the patient himself lists his delegations")
        return await self.store.delegations_of(patient_id)

    async def keys_for_delegate(self, caller: Principal, patient_id: str) -> Document:
        """The delegate's own scope and sealed segment keys (the delegate himself only)."""
        doc = await self.store.get_delegation(patient_id, caller.sub)
        if doc is None or not doc["active"]:
            raise NotDelegated("no active delegation of this patient to the caller")
        return doc
