"""What FHIR R4 forbids and the R4B models accept: cheap, targeted checks over dicts.

``fhir.resources.R4B`` validates structure and primitive types, but a ``code`` is any
token to it, and R4B knows resource types R4 does not. These checks close that gap
for what we store, without building another model:

- resource types added in R4B (4.3.0) and absent from R4 (4.0.1);
- values outside the *required* bindings of the status-like codes of every type the
  segment vocabulary names (``Observation.status``, ``Patient.gender``, ...), from the
  R4 resource pages (hl7.org/fhir/R4/<type>.html, "Terminology Bindings");
- a ``transaction`` or ``batch`` entry without ``request`` (R4 invariant bdl-3), and
  ``fullUrl``s repeated in one Bundle (bdl-7: unique, unless the versions differ or
  the Bundle is a history).

Each failure is a :class:`FhirValidationError` naming the entry, resource and field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from phr.fhir.validate import FhirValidationError

#: In R4B, not in R4 (hl7.org/fhir/R4B/diff.html, "new resources").
R4B_ONLY_TYPES: Final = frozenset(
    {
        "AdministrableProductDefinition",
        "Citation",
        "ClinicalUseDefinition",
        "EvidenceReport",
        "Ingredient",
        "ManufacturedItemDefinition",
        "MedicinalProductDefinition",
        "NutritionProduct",
        "PackagedProductDefinition",
        "RegulatedAuthorization",
        "SubscriptionStatus",
        "SubscriptionTopic",
        "SubstanceDefinition",
    }
)

BUNDLE_TYPES: Final = frozenset(
    "document message transaction transaction-response batch batch-response history "
    "searchset collection".split()
)
HTTP_VERBS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"})


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# R4 value sets with a required binding (one name per value set, as the spec's).
_GENDER = _codes("male female other unknown")
_OBSERVATION_STATUS = _codes(
    "registered preliminary final amended corrected cancelled entered-in-error unknown"
)
_REQUEST_STATUS = _codes("draft active on-hold revoked completed entered-in-error unknown")
_REQUEST_INTENT = _codes(
    "proposal plan directive order original-order reflex-order filler-order instance-order option"
)
_REQUEST_PRIORITY = _codes("routine urgent asap stat")
_EVENT_STATUS = _codes(
    "preparation in-progress not-done on-hold stopped completed entered-in-error unknown"
)
_FM_STATUS = _codes("active cancelled draft entered-in-error")
_REMITTANCE_OUTCOME = _codes("queued complete error partial")
_CLAIM_USE = _codes("claim preauthorization predetermination")
_COMPOSITION_STATUS = _codes("preliminary final amended entered-in-error")

#: resource type -> (dotted path, allowed codes); a path steps through lists.
REQUIRED_CODES: Final[Mapping[str, tuple[tuple[str, frozenset[str]], ...]]] = {
    "Patient": (("gender", _GENDER),),
    "RelatedPerson": (("gender", _GENDER),),
    "Person": (("gender", _GENDER),),
    "Practitioner": (("gender", _GENDER),),
    "AllergyIntolerance": (
        ("type", _codes("allergy intolerance")),
        ("category", _codes("food medication environment biologic")),
        ("criticality", _codes("low high unable-to-assess")),
        ("reaction.severity", _codes("mild moderate severe")),
    ),
    "FamilyMemberHistory": (
        ("status", _codes("partial completed entered-in-error health-unknown")),
    ),
    "ClinicalImpression": (("status", _codes("in-progress completed entered-in-error")),),
    "CarePlan": (
        ("status", _REQUEST_STATUS),
        ("intent", _codes("proposal plan order option")),
        (
            "activity.detail.status",
            _codes(
                "not-started scheduled in-progress on-hold completed cancelled stopped "
                "unknown entered-in-error"
            ),
        ),
    ),
    "CareTeam": (("status", _codes("proposed active suspended inactive entered-in-error")),),
    "Goal": (
        (
            "lifecycleStatus",
            _codes(
                "proposed planned accepted active on-hold completed cancelled "
                "entered-in-error rejected"
            ),
        ),
    ),
    "RiskAssessment": (("status", _OBSERVATION_STATUS),),
    "Observation": (("status", _OBSERVATION_STATUS),),
    "DiagnosticReport": (
        (
            "status",
            _codes(
                "registered partial preliminary final amended corrected appended cancelled "
                "entered-in-error unknown"
            ),
        ),
    ),
    "Specimen": (("status", _codes("available unavailable unsatisfactory entered-in-error")),),
    "MolecularSequence": (("type", _codes("aa dna rna")),),
    "Medication": (("status", _codes("active inactive entered-in-error")),),
    "MedicationRequest": (
        (
            "status",
            _codes("active on-hold cancelled completed entered-in-error stopped draft unknown"),
        ),
        (
            "intent",
            _codes(
                "proposal plan order original-order reflex-order filler-order instance-order option"
            ),
        ),
        ("priority", _REQUEST_PRIORITY),
    ),
    "MedicationAdministration": (
        (
            "status",
            _codes("in-progress not-done on-hold completed entered-in-error stopped unknown"),
        ),
    ),
    "MedicationDispense": (
        (
            "status",
            _codes(
                "preparation in-progress cancelled on-hold completed entered-in-error stopped "
                "declined unknown"
            ),
        ),
    ),
    "MedicationStatement": (
        (
            "status",
            _codes("active completed entered-in-error intended stopped on-hold unknown not-taken"),
        ),
    ),
    "Immunization": (("status", _codes("completed entered-in-error not-done")),),
    "ImmunizationEvaluation": (("status", _codes("completed entered-in-error")),),
    "Procedure": (("status", _EVENT_STATUS),),
    "ServiceRequest": (
        ("status", _REQUEST_STATUS),
        ("intent", _REQUEST_INTENT),
        ("priority", _REQUEST_PRIORITY),
    ),
    "Device": (("status", _codes("active inactive entered-in-error unknown")),),
    "DeviceRequest": (
        ("status", _REQUEST_STATUS),
        ("intent", _REQUEST_INTENT),
        ("priority", _REQUEST_PRIORITY),
    ),
    "DeviceUseStatement": (
        ("status", _codes("active completed entered-in-error intended stopped on-hold")),
    ),
    "ImagingStudy": (
        ("status", _codes("registered available cancelled entered-in-error unknown")),
    ),
    "Media": (("status", _EVENT_STATUS),),
    "DocumentReference": (
        ("status", _codes("current superseded entered-in-error")),
        ("docStatus", _COMPOSITION_STATUS),
    ),
    "Composition": (("status", _COMPOSITION_STATUS),),
    "Encounter": (
        (
            "status",
            _codes(
                "planned arrived triaged in-progress onleave finished cancelled "
                "entered-in-error unknown"
            ),
        ),
    ),
    "Coverage": (("status", _FM_STATUS),),
    "CoverageEligibilityRequest": (("status", _FM_STATUS),),
    "CoverageEligibilityResponse": (("status", _FM_STATUS), ("outcome", _REMITTANCE_OUTCOME)),
    "Claim": (("status", _FM_STATUS), ("use", _CLAIM_USE)),
    "ClaimResponse": (
        ("status", _FM_STATUS),
        ("use", _CLAIM_USE),
        ("outcome", _REMITTANCE_OUTCOME),
    ),
    "ExplanationOfBenefit": (
        ("status", _FM_STATUS),
        ("use", _CLAIM_USE),
        ("outcome", _REMITTANCE_OUTCOME),
    ),
}

#: CodeableConcepts with a required binding: codings of that system must be in the set
#: (a coding of another system is a translation the binding does not govern).
REQUIRED_CONCEPTS: Final[Mapping[str, tuple[tuple[str, str, frozenset[str]], ...]]] = {
    "Condition": (
        (
            "clinicalStatus",
            "http://terminology.hl7.org/CodeSystem/condition-clinical",
            _codes("active recurrence relapse inactive remission resolved"),
        ),
        (
            "verificationStatus",
            "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            _codes("unconfirmed provisional differential confirmed refuted entered-in-error"),
        ),
    ),
    "AllergyIntolerance": (
        (
            "clinicalStatus",
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            _codes("active inactive resolved"),
        ),
        (
            "verificationStatus",
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            _codes("unconfirmed confirmed refuted entered-in-error"),
        ),
    ),
}


def _values(node: Any, path: list[str]) -> Iterator[Any]:
    """Every value at ``path`` under ``node``, stepping through lists."""
    if isinstance(node, list):
        for item in node:
            yield from _values(item, path)
        return
    if not isinstance(node, dict):
        return
    value = node.get(path[0])
    if value is None:
        return
    if len(path) == 1:
        if isinstance(value, list):
            yield from value
        else:
            yield value
    else:
        yield from _values(value, path[1:])


def check_resource_r4(resource: Mapping[str, Any], *, entry: int | None = None) -> None:
    """Raise :class:`FhirValidationError` for an R4B-only type or a code R4 does not allow."""
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    if not isinstance(rtype, str):
        return  # the model check names this
    if rtype in R4B_ONLY_TYPES:
        raise FhirValidationError(
            "resource type of FHIR R4B, not R4 (4.0.1)",
            entry=entry,
            resource_type=rtype,
            resource_id=rid,
        )
    for path, allowed in REQUIRED_CODES.get(rtype, ()):
        for value in _values(resource, path.split(".")):
            if not isinstance(value, str) or value not in allowed:
                raise FhirValidationError(
                    f"{value!r} is not in the required value set ({', '.join(sorted(allowed))})",
                    entry=entry,
                    resource_type=rtype,
                    resource_id=rid,
                    field=path,
                )
    for path, system, allowed in REQUIRED_CONCEPTS.get(rtype, ()):
        for coding in _values(resource, [path, "coding"]):
            if isinstance(coding, dict) and coding.get("system") == system:
                code = coding.get("code")
                if not isinstance(code, str) or code not in allowed:
                    raise FhirValidationError(
                        f"{code!r} is not a code of {system} (required binding)",
                        entry=entry,
                        resource_type=rtype,
                        resource_id=rid,
                        field=f"{path}.coding.code",
                    )


def check_bundle_rules(bundle: Mapping[str, Any]) -> None:
    """The Bundle-level rules: its type, bdl-3 (request) and bdl-7 (unique fullUrl)."""
    btype = bundle.get("type")
    if not isinstance(btype, str) or btype not in BUNDLE_TYPES:
        raise FhirValidationError(
            f"{btype!r} is not a Bundle type of R4", resource_type="Bundle", field="type"
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        return  # the structural check names this
    seen: dict[str, set[str | None]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if btype in ("transaction", "batch"):
            request = entry.get("request")
            if not isinstance(request, dict) or not request.get("url"):
                raise FhirValidationError(
                    f"a {btype} entry needs request (method and url)",
                    entry=i,
                    resource_type=rtype,
                    field="request",
                )
            method = request.get("method")
            if not isinstance(method, str) or method not in HTTP_VERBS:
                raise FhirValidationError(
                    f"request.method {request.get('method')!r} is not an HTTP verb of R4",
                    entry=i,
                    resource_type=rtype,
                    field="request.method",
                )
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and btype != "history":
            meta = resource.get("meta") if isinstance(resource, dict) else None
            version = meta.get("versionId") if isinstance(meta, dict) else None
            version = version if isinstance(version, str) else None  # the schema checks it
            versions = seen.setdefault(full_url, set())
            if versions and (version is None or None in versions or version in versions):
                raise FhirValidationError(
                    f"fullUrl {full_url!r} appears twice in the Bundle",
                    entry=i,
                    resource_type=rtype,
                    field="fullUrl",
                )
            versions.add(version)


def check_bundle_r4(bundle: Mapping[str, Any]) -> None:
    """The Bundle-level rules and :func:`check_resource_r4` on every entry's resource."""
    check_bundle_rules(bundle)
    entries = bundle.get("entry") or []
    for i, entry in enumerate(entries if isinstance(entries, list) else ()):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            check_resource_r4(resource, entry=i)
