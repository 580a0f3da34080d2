"""The segment vocabulary: the ONE place that maps FHIR resource types to segments.

A resource type not listed goes to ``other``; nothing is dropped. The KGC publishes
``SEGMENTS`` as part of the system parameters.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Segment(StrEnum):
    DEMOGRAPHICS = "demographics"
    CONDITIONS = "conditions"
    LABS = "labs"
    MEDICATIONS = "medications"
    IMMUNIZATIONS = "immunizations"
    PROCEDURES = "procedures"
    IMAGING = "imaging"
    NOTES = "notes"
    INSURANCE = "insurance"
    OTHER = "other"


SEGMENTS: Final[tuple[str, ...]] = tuple(s.value for s in Segment)

_BY_SEGMENT: dict[Segment, tuple[str, ...]] = {
    Segment.DEMOGRAPHICS: ("Patient", "RelatedPerson", "Person"),
    Segment.CONDITIONS: (
        "Condition",
        "AllergyIntolerance",
        "FamilyMemberHistory",
        "ClinicalImpression",
        "CarePlan",
        "CareTeam",
        "Goal",
        "RiskAssessment",
    ),
    Segment.LABS: ("Observation", "DiagnosticReport", "Specimen", "MolecularSequence"),
    Segment.MEDICATIONS: (
        "Medication",
        "MedicationRequest",
        "MedicationAdministration",
        "MedicationDispense",
        "MedicationStatement",
    ),
    Segment.IMMUNIZATIONS: (
        "Immunization",
        "ImmunizationEvaluation",
        "ImmunizationRecommendation",
    ),
    Segment.PROCEDURES: (
        "Procedure",
        "ServiceRequest",
        "Device",
        "DeviceRequest",
        "DeviceUseStatement",
    ),
    Segment.IMAGING: ("ImagingStudy", "Media"),
    # Encounters carry the visit narrative (reason, participants, discharge), so
    # they travel with the clinical documents rather than with "other".
    Segment.NOTES: ("DocumentReference", "Composition", "Encounter"),
    Segment.INSURANCE: (
        "Coverage",
        "CoverageEligibilityRequest",
        "CoverageEligibilityResponse",
        "Claim",
        "ClaimResponse",
        "ExplanationOfBenefit",
    ),
}

RESOURCE_SEGMENT: Final = MappingProxyType(
    {rtype: seg for seg, rtypes in _BY_SEGMENT.items() for rtype in rtypes}
)


def segment_for(resource_type: str) -> Segment:
    """The segment of a resource type; ``other`` for any type not listed."""
    return RESOURCE_SEGMENT.get(resource_type, Segment.OTHER)
