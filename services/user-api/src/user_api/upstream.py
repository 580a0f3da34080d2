"""owner-api and cloud-store over HTTP, with this service's own token.

owner-api serves a record's signed manifest (capsules) and a patient's record list to
services; cloud-store presigns S3 reads of ciphertext and runs trapdoor search, for
services only. Failing to reach either becomes :class:`UpstreamUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from phr.service.http import HttpResponse, ServiceHttp, TransportFailed
from phr.service.problems import DomainError
from user_api.errors import RecordGone, RecordNotFound, UpstreamUnavailable

log = structlog.get_logger("user_api.upstream")

#: the service token for one callee (by service name)
TokenSource = Callable[[str], str]


@dataclass(frozen=True)
class RecordSummary:
    record_id: str
    uploaded_by: str
    uploaded_at: datetime | None
    segments: dict[str, int]  # name -> key version


class Upstream:
    """The calls user-api makes to owner-api and cloud-store."""

    def __init__(
        self, http: ServiceHttp, *, owner_api: str, cloud_store: str, token: TokenSource
    ) -> None:
        self._http = http
        self._owner = owner_api.rstrip("/")
        self._cloud = cloud_store.rstrip("/")
        self._token = token

    async def _call(self, service: str, method: str, url: str, **kw: Any) -> HttpResponse:
        headers = {"Authorization": f"Bearer {self._token(service)}"}
        try:
            return await self._http.request(method, url, headers=headers, **kw)
        except TransportFailed as exc:
            raise UpstreamUnavailable(
                f"{service} did not answer ({exc.reason})", service=service
            ) from exc

    # ------------------------------------------------------------ owner-api

    async def signed_manifest(self, patient_id: str, record_id: str) -> dict[str, Any]:
        url = f"{self._owner}/v1/patients/{patient_id}/records/{record_id}"
        resp = await self._call("owner-api", "GET", url)
        if resp.status == 404:
            raise RecordNotFound(f"no record {record_id} of patient {patient_id}")
        if resp.status == 410:
            raise RecordGone(f"record {record_id} was deleted")
        _raise_for("owner-api", resp)
        manifest: dict[str, Any] = resp.json()["signed_manifest"]
        return manifest

    async def records_of(self, patient_id: str, limit: int) -> list[RecordSummary]:
        url = f"{self._owner}/v1/patients/{patient_id}/records"
        resp = await self._call("owner-api", "GET", url, params={"limit": limit})
        _raise_for("owner-api", resp)
        out = []
        for r in resp.json():
            stamp = r.get("committed_at") or r.get("created_at")
            out.append(
                RecordSummary(
                    record_id=r["record_id"],
                    uploaded_by=r["uploaded_by"],
                    uploaded_at=datetime.fromisoformat(stamp) if stamp else None,
                    segments={s["name"]: int(s["key_version"]) for s in r["segments"]},
                )
            )
        return out

    # ------------------------------------------------------------ cloud-store

    async def search(
        self, trapdoors: list[str], patient_ids: list[str], limit: int = 1000
    ) -> list[dict[str, str]]:
        body = {"trapdoors": trapdoors, "patient_ids": patient_ids, "limit": limit}
        resp = await self._call("cloud-store", "POST", f"{self._cloud}/v1/search", json=body)
        _raise_for("cloud-store", resp)
        matches: list[dict[str, str]] = resp.json()["matches"]
        return matches

    async def presigned_reads(self, keys: list[str], expires_s: int) -> dict[str, str]:
        """A presigned S3 GET URL per object key, valid ``expires_s`` seconds."""
        body = {"objects": [{"key": k, "method": "GET"} for k in keys], "expires_s": expires_s}
        resp = await self._call("cloud-store", "POST", f"{self._cloud}/v1/presign", json=body)
        _raise_for("cloud-store", resp)
        return {str(u["key"]): str(u["url"]) for u in resp.json()["urls"]}


def _raise_for(service: str, resp: HttpResponse) -> None:
    if resp.status < 400:
        return
    try:
        detail = str(resp.json().get("detail", ""))
    except ValueError:
        detail = resp.text[:200]
    log.warning("upstream.failed", service=service, status=resp.status, detail=detail)
    if resp.status >= 500:
        raise UpstreamUnavailable(f"{service} failed ({resp.status})", service=service)
    # A 4xx between services is our bug (token, path), never the caller's.
    raise DomainError(f"{service} refused a call ({resp.status})")
