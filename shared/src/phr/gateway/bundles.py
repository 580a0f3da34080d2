"""Searchset Bundles as the gateway returns them: entries, withheld segments, paging links."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from phr.gateway.outcome import issue, operation_outcome

#: the confidentiality label of a Bundle some of whose content was left out
REDACTED: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
    "display": "redacted",
}
WITHHELD_WHY: Final = {
    "not-granted": "the patient has not granted it to this identity",
    "revoked": "the patient revoked the grant",
    "expired": "the grant expired",
    "not-yet-valid": "the grant is not valid yet",
}


@dataclass(frozen=True)
class Withheld:
    record_id: str
    segment: str
    reason: str


def match_entry(entry: Mapping[str, Any], fhir_base: str) -> dict[str, Any]:
    """A record's entry as a searchset ``match`` (no transaction ``request``/``response``):
    its ``fullUrl`` the resource's URL here when it has an id (a read by id serves it),
    else the one it was uploaded with (see :func:`phr.gateway.references.localise`)."""
    resource = entry["resource"]
    rid = resource.get("id")
    full_url = entry.get("fullUrl")
    if isinstance(rid, str):
        full_url = f"{fhir_base}/{resource['resourceType']}/{rid}"
    elif not isinstance(full_url, str):
        full_url = _urn()
    return {"fullUrl": full_url, "resource": resource, "search": {"mode": "match"}}


def served_matches(resources: Iterable[dict[str, Any]], fhir_base: str) -> list[dict[str, Any]]:
    """Resources the gateway makes (Consent, AuditEvent) as searchset matches."""
    return [
        {
            "fullUrl": f"{fhir_base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ]


def withheld_outcome(
    withheld: Iterable[Withheld], extra: Iterable[dict[str, Any]] = ()
) -> dict[str, Any] | None:
    """An OperationOutcome entry (search mode ``outcome``) naming each withheld segment."""
    issues = [
        issue(
            "warning",
            "suppressed",
            f"segment {w.segment} of record {w.record_id} withheld: "
            f"{WITHHELD_WHY.get(w.reason, w.reason)}",
            details=w.reason,
        )
        for w in withheld
    ]
    issues.extend(extra)
    if not issues:
        return None
    return {
        "fullUrl": _urn(),
        "resource": operation_outcome(issues),
        "search": {"mode": "outcome"},
    }


def searchset(
    matches: list[dict[str, Any]],
    *,
    self_url: str,
    total: int | None = None,
    outcome: dict[str, Any] | None = None,
    redacted: bool = False,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
    }
    if redacted:
        bundle["meta"] = {"security": [REDACTED]}
    bundle["total"] = len(matches) if total is None else total
    bundle["link"] = [{"relation": "self", "url": self_url}] + [
        {"relation": rel, "url": url} for rel, url in (links or {}).items()
    ]
    bundle["entry"] = matches + ([outcome] if outcome is not None else [])
    return bundle


def page_links(
    url: str, params: Mapping[str, str], *, offset: int, count: int, total: int
) -> tuple[str, dict[str, str]]:
    """The self URL and the first/previous/next/last links of one page."""

    def at(start: int) -> str:
        return f"{url}?{urlencode({**params, '_count': str(count), '_offset': str(start)})}"

    links: dict[str, str] = {"first": at(0)}
    if offset > 0:
        links["previous"] = at(max(0, offset - count))
    if offset + count < total:
        links["next"] = at(offset + count)
    links["last"] = at(max(0, (total - 1) // count * count) if total else 0)
    return at(offset), links


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"
