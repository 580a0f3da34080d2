"""Keyword search for a data user, scoped to what patients granted him.

cloud-store tests trapdoors against every segment's tags and learns only which
segments match; user-api makes sure it is asked only about patients who granted the
caller something, and returns only matches in segments granted to him (a grant with
``data_from`` covers only records uploaded since). A patient who granted nothing
yields nothing, whatever the trapdoors.

Trapdoors are HMACs under one segment search key (per patient, segment and key
version, or per record for a contributor's upload); a segment matches when it holds
all of them, so one call carries the terms of one search key. The reader's SDK
(:mod:`phr.sdk.access`) groups its trapdoors accordingly.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from phr.api.user import (
    GrantToCaller,
    SearchMatch,
    SharedDetail,
    SharedPatient,
    SharedRecord,
    WithheldSegment,
)
from phr.identity.tokens import Principal
from user_api.grants import GrantView, Scope, scope_for
from user_api.store import Store
from user_api.upstream import RecordSummary, Upstream

log = structlog.get_logger("user_api.search")

#: cloud-store takes at most this many patient ids per search
PATIENTS_PER_CALL = 10_000


class SearchService:
    def __init__(self, store: Store, upstream: Upstream, *, max_records: int) -> None:
        self.store = store
        self.upstream = upstream
        self.max_records = max_records

    async def scope(
        self, caller: Principal, patient_id: str | None, *, emergency: bool = False
    ) -> Scope:
        grants = await self.store.grants_for(caller, patient_id)
        return scope_for(
            caller,
            grants,
            now=datetime.now(UTC),
            patient_id=patient_id,
            include_emergency=emergency,
        )

    async def search(
        self, caller: Principal, trapdoors: list[str], patient_id: str | None
    ) -> list[SearchMatch]:
        scope = await self.scope(caller, patient_id)
        patients = scope.patient_ids
        if not patients:
            return []
        found: list[dict[str, str]] = []
        for i in range(0, len(patients), PATIENTS_PER_CALL):
            found += await self.upstream.search(trapdoors, patients[i : i + PATIENTS_PER_CALL])
        candidates = [m for m in found if m["segment"] in scope.segments(m["patient_id"])]
        uploaded = await self._upload_times(scope, {m["patient_id"] for m in candidates})
        matches = [
            SearchMatch(**m)
            for m in candidates
            if scope.allows(
                m["patient_id"], m["segment"], uploaded.get((m["patient_id"], m["record_id"]))
            )
        ]
        log.info(
            "search.answered",
            patients=len(patients),
            found=len(found),
            returned=len(matches),
        )
        return matches

    async def shared_with(
        self, caller: Principal, patient_id: str | None, *, emergency: bool = False
    ) -> list[SharedPatient]:
        """Per granting patient: the segments granted and the records holding them.

        ``emergency`` (one patient only) adds the segments break-glass may open, so a
        clinician can find the records to open in an emergency.
        """
        scope = await self.scope(caller, patient_id, emergency=emergency)
        listings = await asyncio.gather(
            *(self.upstream.records_of(p, self.max_records) for p in scope.patient_ids)
        )
        out = []
        for pid, records in zip(scope.patient_ids, listings, strict=True):
            shared = [_visible(scope, pid, r) for r in records]
            out.append(
                SharedPatient(
                    patient_id=pid,
                    segments=sorted(scope.segments(pid)),
                    records=[r for r in shared if r.segments],
                )
            )
        return out

    async def shared_detail(self, caller: Principal, patient_id: str) -> SharedDetail:
        """Grants of ``patient_id`` to the caller (any status), the records he may read,
        and why the other segments of those records are withheld. A patient who never
        granted the caller anything yields nothing (not even whether he has records)."""
        now = datetime.now(UTC)
        grants = [
            g
            for g in await self.store.grants_for(caller, patient_id, include_revoked=True)
            if g.patient_id == patient_id and g.addressed_to(caller)
        ]
        if not grants:
            return SharedDetail(patient_id=patient_id, grants=[], records=[], withheld=[])
        scope = scope_for(caller, grants, now=now, patient_id=patient_id)
        records = await self.upstream.records_of(patient_id, self.max_records)
        withheld = [
            WithheldSegment(record_id=r.record_id, segment=name, reason=reason)
            for r in records
            for name in sorted(r.segments)
            if not scope.allows(patient_id, name, r.uploaded_at)
            for reason in [_withheld_reason(grants, name, r.uploaded_at, now)]
        ]
        visible = [_visible(scope, patient_id, r) for r in records]
        return SharedDetail(
            patient_id=patient_id,
            grants=[_grant_out(g, now) for g in grants],
            records=[r for r in visible if r.segments],
            withheld=withheld,
        )

    async def _upload_times(
        self, scope: Scope, patients: set[str]
    ) -> dict[tuple[str, str], datetime | None]:
        """Upload times of the patients' records, only where a grant has ``data_from``."""
        wanted = sorted(p for p in patients if scope.needs_upload_time(p))
        listings = await asyncio.gather(
            *(self.upstream.records_of(p, self.max_records) for p in wanted)
        )
        return {
            (pid, r.record_id): r.uploaded_at
            for pid, records in zip(wanted, listings, strict=True)
            for r in records
        }


def _visible(scope: Scope, patient_id: str, record: RecordSummary) -> SharedRecord:
    return SharedRecord(
        record_id=record.record_id,
        uploaded_by=record.uploaded_by,
        uploaded_at=record.uploaded_at,
        segments={
            name: version
            for name, version in record.segments.items()
            if scope.allows(patient_id, name, record.uploaded_at)
        },
    )


def _withheld_reason(
    grants: list[GrantView], segment: str, uploaded_at: datetime | None, now: datetime
) -> str:
    """Why no usable grant gives ``segment`` of a record: the grants that named it."""
    named = [g for g in grants if segment in g.segments and not g.emergency]
    statuses = {g.status(now) for g in named}
    for status, reason in (("revoked", "revoked"), ("expired", "expired")):
        if status in statuses:
            return reason
    if "pending" in statuses:
        return "not-yet-valid"
    return "not-granted"  # never named, or only for records uploaded later


def _grant_out(grant: GrantView, now: datetime) -> GrantToCaller:
    return GrantToCaller(
        grant_id=grant.grant_id,
        segments=sorted(grant.segments),
        grantee_user_id=grant.grantee_user_id,
        grantee_group=dict(grant.grantee_group) if grant.grantee_group else None,
        status=grant.status(now),
        not_before=grant.not_before,
        expires_at=grant.expires_at,
        data_from=grant.data_from,
        purpose=grant.purpose,
        emergency=grant.emergency,
        revoked_at=grant.revoked_at,
    )
