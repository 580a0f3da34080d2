"""user-api's store in memory (:class:`user_api.store.Store`), for the fast tier.

Documents are kept as the Mongo store writes them, so :meth:`GrantView.from_doc` reads
both the same way; ``tests/contracts`` holds the two to one behaviour.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime

from phr.api.ids import segment_version
from phr.events.access import AccessBreakglass
from phr.events.acl import AclGranted, AclRevoked
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from user_api.grants import GrantView
from user_api.store import Session, new_breakglass_entry


class MemoryStore:
    def __init__(self) -> None:
        #: (patient, grant id) -> grant document
        self.grants: dict[tuple[str, str], Document] = {}
        #: (patient, requester, request id) -> break-glass entry
        self.breakglass: dict[tuple[str, str, str], Document] = {}
        self.rejected: dict[str, Document] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def put_grant(self, data: AclGranted, session: Session = None) -> None:
        group = dict(data.grantee_group) if data.grantee_group else None
        doc = self.grants.setdefault((data.patient_id, data.grant_id), {"revoked": False})
        versions = [segment_version(k.segment, k.key_version) for k in data.key_grants]
        known = doc.get("key_versions", [])
        doc.update(
            grant_id=data.grant_id,
            patient_id=data.patient_id,
            grantee_user_id=data.grantee_user_id,
            grantee_group=group,
            group_role=group.get("role") if group else None,
            segments=sorted(set(data.segments)),
            not_before=data.not_before,
            expires_at=data.expires_at,
            data_from=data.data_from,
            emergency=data.emergency,
            purpose=data.purpose,
            updated_at=datetime.now(UTC),
            key_versions=known + [v for v in dict.fromkeys(versions) if v not in known],
        )

    async def revoke_grant(self, data: AclRevoked, session: Session = None) -> bool:
        key = (data.patient_id, data.grant_id)
        if key not in self.grants and any(g == data.grant_id for _, g in self.grants):
            return False
        doc = self.grants.setdefault(
            key, {"grant_id": data.grant_id, "patient_id": data.patient_id, "segments": []}
        )
        doc.update(revoked=True, revoked_at=datetime.now(UTC))
        return True

    async def record_rejection(
        self, event_id: str, event_type: str, reason: str, session: Session = None
    ) -> None:
        self.rejected[event_id] = {"type": event_type, "reason": reason, "at": datetime.now(UTC)}

    async def count_rejections(self) -> int:
        return len(self.rejected)

    async def grants_for(
        self, caller: Principal, patient_id: str | None = None, *, include_revoked: bool = False
    ) -> list[GrantView]:
        def may_address(doc: Document) -> bool:
            if doc.get("grantee_user_id") == caller.sub:
                return True
            return (
                doc.get("grantee_user_id") is None
                and doc.get("grantee_group") is not None
                and doc.get("group_role") in (caller.role, None)
            )

        return [
            GrantView.from_doc(doc)
            for (pid, _), doc in self.grants.items()
            if (include_revoked or not doc.get("revoked"))
            and (patient_id is None or pid == patient_id)
            and may_address(doc)
        ]

    async def note_breakglass(
        self, data: AccessBreakglass, at: datetime, session: Session = None
    ) -> None:
        entry = self.breakglass.setdefault(
            (data.patient_id, data.requester_id, data.request_id),
            new_breakglass_entry(data, at)
            | {"segments": [], "nodes": [], "expires_in_s": data.expires_in_s},
        )
        for name in data.segments:
            if name not in entry["segments"]:
                entry["segments"].append(name)
        node = data.node_id or "?"
        if node not in entry["nodes"]:
            entry["nodes"].append(node)
        entry["expires_in_s"] = max(entry["expires_in_s"], data.expires_in_s)

    async def breakglass_of(self, patient_id: str, limit: int = 500) -> Sequence[Document]:
        mine = [copy.deepcopy(d) for (p, _, _), d in self.breakglass.items() if p == patient_id]
        return sorted(mine, key=lambda d: d["first_seen"], reverse=True)[:limit]
