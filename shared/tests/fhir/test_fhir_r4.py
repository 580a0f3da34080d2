"""The stricter R4 checks: what the R4B models accept and FHIR R4 forbids is refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from phr.client import OwnerKeys, encrypt_record
from phr.crypto.keys import PatientMasterKey
from phr.crypto.signing import SigningKey
from phr.fhir.r4 import R4B_ONLY_TYPES, REQUIRED_CODES, check_bundle_r4
from phr.fhir.segments import RESOURCE_SEGMENT
from phr.fhir.synthetic import load_bundle
from phr.fhir.validate import FhirValidationError, validate_bundle, validate_resource

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "synthea_r4_seed42.json.gz"


def _bundle(*resources: dict[str, Any], btype: str = "collection") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": btype,
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-00000000000{i}", "resource": r}
            | (
                {"request": {"method": "POST", "url": r["resourceType"]}}
                if btype != "collection"
                else {}
            )
            for i, r in enumerate(resources)
        ],
    }


OBSERVATION = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
}
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}


def test_the_synthea_fixture_passes() -> None:
    validate_bundle(load_bundle(FIXTURE))


def test_a_valid_small_bundle_passes_both_checks() -> None:
    validate_bundle(_bundle(PATIENT, OBSERVATION, btype="transaction"))


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        (OBSERVATION | {"status": "finalish"}, "status"),
        (PATIENT | {"gender": "robot"}, "gender"),
        (
            {
                "resourceType": "MedicationRequest",
                "id": "m1",
                "status": "active",
                "intent": "wish",
                "subject": {"reference": "Patient/p1"},
                "medicationCodeableConcept": {"text": "x"},
            },
            "intent",
        ),
        (
            {
                "resourceType": "Condition",
                "id": "c1",
                "subject": {"reference": "Patient/p1"},
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "sort-of",
                        }
                    ]
                },
            },
            "clinicalStatus.coding.code",
        ),
        (
            {
                "resourceType": "CarePlan",
                "id": "cp",
                "status": "active",
                "intent": "plan",
                "subject": {"reference": "Patient/p1"},
                "activity": [{"detail": {"status": "done-ish"}}],
            },
            "activity.detail.status",
        ),
    ],
)
def test_codes_outside_required_bindings_are_refused(resource: dict[str, Any], field: str) -> None:
    bundle = _bundle(PATIENT, resource)
    validate_resource(resource)  # the R4B model alone lets it through
    with pytest.raises(FhirValidationError) as err:
        validate_bundle(bundle)
    assert err.value.entry == 1
    assert err.value.resource_type == resource["resourceType"]
    assert err.value.field == field


def test_every_segmented_type_has_its_status_codes_checked() -> None:
    without = {t for t in RESOURCE_SEGMENT if t not in REQUIRED_CODES and t != "Condition"}
    # Types whose R4 definition has no code-typed status with a required binding.
    assert without == {"ImmunizationRecommendation"}


def test_r4b_only_resource_types_are_refused() -> None:
    resource = {
        "resourceType": "SubscriptionTopic",
        "id": "t",
        "url": "http://x",
        "status": "active",
    }
    validate_resource(resource)  # R4B knows it
    with pytest.raises(FhirValidationError) as err:
        validate_bundle(_bundle(resource))
    assert err.value.resource_type == "SubscriptionTopic"
    assert "R4B" in str(err.value)
    assert "NutritionProduct" in R4B_ONLY_TYPES


def test_a_transaction_entry_without_request_is_refused() -> None:
    bundle = _bundle(PATIENT, OBSERVATION, btype="transaction")
    del bundle["entry"][1]["request"]
    with pytest.raises(FhirValidationError) as err:
        validate_bundle(bundle)
    assert (err.value.entry, err.value.field) == (1, "request")


def test_a_batch_entry_with_a_bad_method_is_refused() -> None:
    bundle = _bundle(OBSERVATION, btype="batch")
    bundle["entry"][0]["request"]["method"] = "FETCH"
    with pytest.raises(FhirValidationError) as err:
        check_bundle_r4(bundle)
    assert err.value.field == "request.method"


def test_duplicate_full_urls_are_refused_unless_versions_differ() -> None:
    bundle = _bundle(PATIENT, OBSERVATION)
    bundle["entry"][1]["fullUrl"] = bundle["entry"][0]["fullUrl"]
    with pytest.raises(FhirValidationError) as err:
        validate_bundle(bundle)
    assert (err.value.entry, err.value.field) == (1, "fullUrl")
    versioned = copy.deepcopy(bundle)
    versioned["entry"][0]["resource"]["meta"] = {"versionId": "1"}
    versioned["entry"][1]["resource"] = PATIENT | {"meta": {"versionId": "2"}}
    validate_bundle(versioned)


def test_an_unknown_bundle_type_is_refused() -> None:
    with pytest.raises(FhirValidationError) as err:
        check_bundle_r4({"resourceType": "Bundle", "type": "subscription-notification"})
    assert err.value.field == "type"


def test_the_upload_path_refuses_it_before_encrypting() -> None:
    with pytest.raises(FhirValidationError):
        encrypt_record(
            _bundle(OBSERVATION | {"status": "finalish"}),
            patient_id="u_1",
            record_id="r_1",
            keys=OwnerKeys(PatientMasterKey.generate()),
            author=SigningKey.generate(),
        )


@pytest.mark.parametrize(
    "bundle",
    [
        {"resourceType": "Bundle", "type": {"no": "hash"}},
        _bundle(OBSERVATION | {"status": {"a": 1}}),
        _bundle(PATIENT | {"gender": ["female"]}),
        _bundle(OBSERVATION, btype="batch")
        | {"entry": [{"resource": OBSERVATION, "request": {"method": {}, "url": "x"}}]},
    ],
)
def test_values_of_the_wrong_json_type_are_refused_not_a_crash(bundle: dict[str, Any]) -> None:
    with pytest.raises(FhirValidationError):
        validate_bundle(bundle)
