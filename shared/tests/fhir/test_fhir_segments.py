"""FHIR R4: validation errors, segmentation vocabulary, split/merge, keywords."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from phr.fhir.keywords import code_keyword, extract_keywords, payload_keywords, words
from phr.fhir.segments import RESOURCE_SEGMENT, SEGMENTS, Segment, segment_for
from phr.fhir.split import merge_segments, payload_from_bytes, payload_to_bytes, split_bundle
from phr.fhir.synthetic import generate_bundles, load_bundle
from phr.fhir.validate import FhirValidationError, validate_bundle

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "synthea_r4_seed42.json.gz"


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return load_bundle(FIXTURE)


def test_fixture_is_realistic(bundle: dict[str, Any]) -> None:
    assert 500 <= len(bundle["entry"]) <= 1600
    validate_bundle(bundle)


def test_vocabulary_in_one_place() -> None:
    assert SEGMENTS == (
        "demographics",
        "conditions",
        "labs",
        "medications",
        "immunizations",
        "procedures",
        "imaging",
        "notes",
        "insurance",
        "other",
    )
    assert segment_for("Observation") is Segment.LABS
    assert segment_for("Claim") is Segment.INSURANCE
    assert segment_for("SomethingNew") is Segment.OTHER
    assert set(RESOURCE_SEGMENT.values()) <= set(Segment)


def test_split_merge_round_trip(bundle: dict[str, Any]) -> None:
    parts = split_bundle(bundle)
    assert sum(len(p["entries"]) for p in parts.values()) == len(bundle["entry"])  # nothing dropped
    for seg, payload in parts.items():
        for e in payload["entries"]:
            assert segment_for(e["entry"]["resource"]["resourceType"]) is seg
        assert payload_from_bytes(payload_to_bytes(payload)) == payload
    merged = merge_segments(parts.values(), validate=False)
    assert merged["entry"] == bundle["entry"] and merged["type"] == bundle["type"]
    some = merge_segments([parts[Segment.DEMOGRAPHICS], parts[Segment.LABS]])
    assert {e["resource"]["resourceType"] for e in some["entry"]} <= {
        "Patient",
        "Observation",
        "DiagnosticReport",
    }


def test_unknown_types_go_to_other_and_mixed_types_merge_as_collection() -> None:
    a = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Basic", "id": "b1", "code": {"text": "x"}}},
            {"resource": {"resourceType": "Patient", "id": "p1"}},
        ],
    }
    parts = split_bundle(a)
    assert set(parts) == {Segment.OTHER, Segment.DEMOGRAPHICS}
    b = copy.deepcopy(parts[Segment.DEMOGRAPHICS])
    b["bundle_type"] = "transaction"
    merged = merge_segments([parts[Segment.OTHER], b])
    assert merged["type"] == "collection" and len(merged["entry"]) == 2


@pytest.mark.parametrize(
    ("mutate", "rtype", "field"),
    [
        (lambda r: r.update(status=12), "Observation", "status"),
        (lambda r: r.update(valueQuantity={"value": "abc"}), "Observation", "valueQuantity"),
        (lambda r: r.update(bogusField=1), "Observation", "bogusField"),
    ],
)
def test_invalid_fhir_names_resource_and_field(mutate: Any, rtype: str, field: str) -> None:
    obs = {"resourceType": "Observation", "id": "o-1", "status": "final", "code": {"text": "x"}}
    mutate(obs)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": obs}]}
    with pytest.raises(FhirValidationError) as info:
        validate_bundle(bundle)
    err = info.value
    assert (err.entry, err.resource_type, err.resource_id) == (0, rtype, "o-1")
    assert err.field is not None and err.field.startswith(field)
    assert "Observation/o-1" in str(err) and field in str(err)


def test_invalid_shapes() -> None:
    for bad in [
        {"resourceType": "Patient"},
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "Nope"}}],
        },
        {"resourceType": "Bundle", "type": "collection", "entry": [{}]},
    ]:
        with pytest.raises(FhirValidationError):
            validate_bundle(bad)
    with pytest.raises(FhirValidationError):
        payload_from_bytes(b'{"format": "x"}')


def test_keywords(bundle: dict[str, Any]) -> None:
    kws = payload_keywords(split_bundle(bundle, validate=False)[Segment.LABS])
    assert any(k.startswith("loinc:") for k in kws)
    conds = payload_keywords(split_bundle(bundle, validate=False)[Segment.CONDITIONS])
    assert any(k.startswith("snomed:") for k in conds)
    meds = payload_keywords(split_bundle(bundle, validate=False)[Segment.MEDICATIONS])
    assert any(k.startswith("rxnorm:") for k in meds)
    assert code_keyword("http://hl7.org/fhir/sid/icd-10-cm", "E11.9") == "icd10:e11.9"
    assert code_keyword("urn:x", "A") == "urn:x|a"
    assert list(words("Hemoglobin A1c/Hemoglobin.total in Blood")) == [
        "hemoglobin",
        "a1c",
        "hemoglobin",
        "total",
        "blood",
    ]
    res = {
        "resourceType": "Condition",
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "44054006",
                    "display": "Diabetes mellitus type 2",
                }
            ]
        },
        "text": {"status": "generated", "div": "<div>secret narrative</div>"},
    }
    assert extract_keywords([res]) == {"snomed:44054006", "diabetes", "mellitus", "type"}


def test_synthetic_generator_helper() -> None:
    bundles = generate_bundles(1, seed=3)
    assert len(bundles) == 1 and bundles[0]["resourceType"] == "Bundle"
