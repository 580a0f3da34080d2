"""The compiled R4 schema refuses at least what the R4B models refuse, and more."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phr.fhir.r4 import REQUIRED_CODES
from phr.fhir.schema import _load, r4_resource_types
from phr.fhir.synthetic import load_bundle
from phr.fhir.validate import FhirValidationError, validate_bundle, validate_resource

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "synthea_r4_seed42.json.gz"
BAD_VALUES: tuple[Any, ...] = (12, 1.5, "", " padded ", True, [], {}, {"bogus": 1})


def _bundle(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]}


def _refused(check: Any, value: Any) -> bool:
    try:
        check(value)
    except FhirValidationError:
        return True
    return False


def _mutations(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each key dropped, each value (top level and one level down) replaced by bad ones."""
    for key in resource:
        if key == "resourceType":
            continue
        dropped = {k: v for k, v in resource.items() if k != key}
        yield dropped
        for bad in BAD_VALUES:
            yield resource | {key: bad}
        value = resource[key]
        inner = value[0] if isinstance(value, list) and value else value
        if isinstance(inner, dict):
            for sub in inner:
                for bad in BAD_VALUES[:4]:
                    mutated = copy.deepcopy(resource)
                    target = mutated[key][0] if isinstance(value, list) else mutated[key]
                    target[sub] = bad
                    yield mutated
    yield resource | {"bogusElement": "x"}


def test_everything_the_r4b_models_refuse_is_refused() -> None:
    by_type: dict[str, dict[str, Any]] = {}
    for entry in load_bundle(FIXTURE)["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], entry["resource"])
    model_refused = schema_refused = tried = 0
    for resource in by_type.values():
        for mutated in _mutations(resource):
            tried += 1
            if _refused(validate_resource, mutated):
                model_refused += 1
                assert _refused(validate_bundle, _bundle(mutated)), mutated
            schema_refused += _refused(validate_bundle, _bundle(mutated))
    assert tried > 2000 and model_refused > 1000
    assert schema_refused > model_refused  # stricter: e.g. "" and " padded " strings


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        # a required primitive, absent without its extension
        ({"resourceType": "Observation", "id": "o", "code": {"text": "x"}}, "status"),
        # two types of one choice element
        (
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "valueString": "a",
                "valueBoolean": True,
            },
            "valueString",
        ),
        # integers are integers
        (
            {"resourceType": "Patient", "multipleBirthInteger": 1.5},
            "multipleBirthInteger",
        ),
        # a contained resource is checked by its own definition
        (
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "contained": [{"resourceType": "Patient", "gender": "robot"}],
            },
            "contained.gender",
        ),
    ],
)
def test_what_the_schema_adds_is_refused(resource: dict[str, Any], field: str) -> None:
    with pytest.raises(FhirValidationError) as err:
        validate_bundle(_bundle(resource))
    assert err.value.field == field, err.value
    assert err.value.entry == 0


def test_an_entrys_own_elements_are_checked() -> None:
    bundle = _bundle({"resourceType": "Patient", "gender": "female"})
    bundle["entry"][0]["fullUrl"] = "has spaces"
    with pytest.raises(FhirValidationError) as err:
        validate_bundle(bundle)
    assert (err.value.entry, err.value.field) == (0, "fullUrl")


def test_r4_types_r4b_dropped_are_r4() -> None:
    assert {"MedicinalProduct", "EffectEvidenceSynthesis"} <= r4_resource_types()
    assert "SubscriptionTopic" not in r4_resource_types()


def test_the_required_bindings_are_in_the_compiled_schema() -> None:
    for rtype, codes in REQUIRED_CODES.items():
        for path, allowed in codes:
            resource: dict[str, Any] = {"resourceType": rtype}
            node = resource
            *steps, last = path.split(".")
            for step in steps:
                node[step] = [{}]
                node = node[step][0]
            node[last] = "not-a-code"
            with pytest.raises(FhirValidationError) as err:
                validate_bundle(_bundle(resource))
            # the bad code, or first an element this bare resource lacks
            assert err.value.field == path or "required" in str(err.value), (rtype, path)
            node[last] = sorted(allowed)[0]
            try:
                validate_bundle(_bundle(resource))
            except FhirValidationError as exc:
                assert exc.field != path, (rtype, path, exc)


def test_the_rules_are_those_of_the_models() -> None:
    """``deploy/fhir_schema.py --check``: the shipped rules match fhir.resources."""
    run = subprocess.run([sys.executable, "deploy/fhir_schema.py", "--check"], cwd=ROOT)
    assert run.returncode == 0
    assert "Observation" in _load("fhir.r4.rules.json")
