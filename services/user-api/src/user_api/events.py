"""Events user-api consumes: grants and revocations (scope), break-glass (patient's view).

Producers are checked before a handler runs (:mod:`phr.service.producers`): ``acl.*``
only from owner-api, ``access.breakglass`` only from an SRS node of the registry, each
with its registry key. Handlers write with the consumer's session, so each event is
applied once (see :mod:`phr.service.consumer`).
"""

from __future__ import annotations

from typing import Final

import structlog

from phr.events.access import AccessBreakglass
from phr.events.acl import AclGranted, AclRevoked
from phr.events.catalog import TOPIC_ACCESS, TOPIC_ACL, parse_data
from phr.events.envelope import Envelope
from phr.service.producers import OWNER_API, ProducerRules, srs_node_names
from phr.service.registry import Registry
from user_api.store import Session, Store

log = structlog.get_logger("user_api.events")

TOPICS: Final = [TOPIC_ACL, TOPIC_ACCESS]
TYPES: Final = frozenset({"acl.granted", "acl.revoked", "access.breakglass"})


def producer_rules(registry: Registry | None) -> ProducerRules:
    return {
        "acl.granted": OWNER_API,
        "acl.revoked": OWNER_API,
        "access.breakglass": srs_node_names(registry),
    }


class EventHandlers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, event: Envelope, session: Session) -> None:
        data = parse_data(event)
        if isinstance(data, AclGranted):
            await self.store.put_grant(data, session)
            log.info(
                "grant.indexed",
                grant_id=data.grant_id,
                patient_id=data.patient_id,
                segments=data.segments,
                emergency=data.emergency,
            )
        elif isinstance(data, AclRevoked):
            if await self.store.revoke_grant(data, session):
                log.info("grant.revoked", grant_id=data.grant_id, patient_id=data.patient_id)
            else:
                reason = "grant id belongs to another patient"
                await self.store.record_rejection(str(event.id), event.type, reason, session)
                log.warning(
                    "event.cross_patient_id", grant_id=data.grant_id, patient_id=data.patient_id
                )
        elif isinstance(data, AccessBreakglass):
            await self.store.note_breakglass(data, event.time, session)
            log.info(
                "breakglass.noted",
                request_id=data.request_id,
                patient_id=data.patient_id,
                node_id=data.node_id,
            )
