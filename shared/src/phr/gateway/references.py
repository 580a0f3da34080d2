"""No dangling references: what a returned Bundle points at, the caller can resolve.

A resource the gateway serves may reference one the caller may not see (a segment not
granted or revoked, a type outside the client's scopes, a record not read). Such a
reference is replaced the way FHIR R4 provides for (references.html, extensibility):

- to the patient read (``Patient/ID``, ID his PHR id): a *logical* reference, by
  identifier (``urn:phr-exchange:user``), so the subject stays known without a link to a
  resource that is not served;
- to anything else: a display-only reference carrying the ``data-absent-reason``
  extension with code ``masked`` ("not available for security, privacy or related
  reasons"); the original display and identifiers are dropped (they may tell what the
  withheld resource is).

Contained (``#id``) references and absolute URLs of other servers are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator, Mapping
from typing import Any, Final

DATA_ABSENT_REASON: Final = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
USER_SYSTEM: Final = "urn:phr-exchange:user"
MASKED_DISPLAY: Final = "withheld from this client"
_LITERAL = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9._-]{1,64})$")  # our ids have "_"


def references(node: Any) -> Iterator[dict[str, Any]]:
    """Every Reference (a dict with a string ``reference``) under ``node``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def localise(entries: Iterable[Mapping[str, Any]]) -> None:
    """Rewrite, in place, references to an entry's ``fullUrl`` (``urn:uuid:...`` as
    uploaded) into ``Type/id`` when that entry's resource has an id: served entries get
    their RESTful URL as ``fullUrl`` (:func:`phr.gateway.bundles.match_entry`)."""
    entries = list(entries)
    local = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
        if isinstance(e.get("fullUrl"), str)
        and isinstance(e.get("resource"), dict)
        and isinstance(e["resource"].get("id"), str)
    }
    if not local:
        return
    for entry in entries:
        for ref in references(entry.get("resource")):
            target = local.get(ref["reference"])
            if target is not None:
                ref["reference"] = target


def resolvable(entries: Iterable[Mapping[str, Any]], fhir_base: str) -> set[str]:
    """What references to ``entries`` look like: their fullUrls and ``Type/id``."""
    out: set[str] = set()
    for entry in entries:
        resource = entry.get("resource") or {}
        if isinstance(entry.get("fullUrl"), str):
            out.add(entry["fullUrl"])
        if isinstance(resource.get("id"), str):
            local = f"{resource['resourceType']}/{resource['id']}"
            out |= {local, f"{fhir_base}/{local}"}
    return out


def _masked(target_type: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}],
        "display": MASKED_DISPLAY,
    }
    if target_type is not None:
        out["type"] = target_type
    return out


def patient_reference(pid: str) -> dict[str, Any]:
    """A logical reference to patient ``pid`` (by identifier: nothing to resolve)."""
    return {"type": "Patient", "identifier": {"system": USER_SYSTEM, "value": pid}}


def mask_dangling(
    entries: Iterable[Mapping[str, Any]],
    visible: Container[str],
    fhir_base: str,
    patient: str | None = None,
) -> int:
    """Rewrite, in place, each reference of ``entries``' resources to a target outside
    ``visible`` (see :func:`resolvable`; ``patient`` is the PHR id of the patient whose
    resources these are); how many were rewritten."""
    changed = 0
    for entry in entries:
        for ref in list(references(entry.get("resource"))):
            target: str = ref["reference"]
            if target.startswith("#") or target in visible:
                continue
            local = target.removeprefix(f"{fhir_base}/")
            if local != target and local in visible:
                continue
            if target.startswith(("http://", "https://")) and local == target:
                continue  # another server's resource: not ours to judge
            literal = _LITERAL.match(local)
            if (
                patient is not None
                and literal
                and literal[1] == "Patient"
                and literal[2] == patient
            ):
                new = patient_reference(patient)
            else:
                new = _masked(literal[1] if literal else ref.get("type"))
            ref.clear()
            ref.update(new)
            changed += 1
    return changed


def dangling(bundle: Mapping[str, Any], fhir_base: str) -> list[str]:
    """The literal references in ``bundle``'s resources that no entry of it resolves."""
    entries = bundle.get("entry") or []
    visible = resolvable(entries, fhir_base)
    out = []
    for entry in entries:
        for ref in references(entry.get("resource")):
            target = ref["reference"]
            if not (target.startswith("#") or target in visible):
                out.append(target)
    return out
