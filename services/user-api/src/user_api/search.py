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

from phr.identity.tokens import Principal
from user_api.grants import Scope, scope_for
from user_api.models import SearchMatch, SharedPatient, SharedRecord
from user_api.store import MongoStore
from user_api.upstream import RecordSummary, Upstream

log = structlog.get_logger("user_api.search")

#: cloud-store takes at most this many patient ids per search
PATIENTS_PER_CALL = 10_000


class SearchService:
    def __init__(self, store: MongoStore, upstream: Upstream, *, max_records: int) -> None:
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
