"""The one id pattern and the composite ids built from it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from phr.api.ids import (
    ID_PATTERN,
    BlobRef,
    Id,
    KeyGrantRef,
    blob_key,
    delegation_id,
    is_id,
    key_grant_id,
    parse_blob_key,
    parse_key_grant_id,
    parse_segment_version,
    patient_key_id,
    segment_version,
)

ids = st.from_regex(ID_PATTERN, fullmatch=True)
versions = st.integers(min_value=1, max_value=999_999_999)


class _Body(BaseModel):
    id: Id


@pytest.mark.parametrize(
    "text",
    ["u_3f2a9c", "r_" + "0" * 32, "up_" + "a" * 32, "g1", "org_1a2b3c", "grp_x", "srs-1", "a" * 64],
)
def test_issued_ids_are_ids(text: str) -> None:
    assert is_id(text)
    assert _Body(id=text).id == text


@pytest.mark.parametrize(
    "text",
    ["", "a" * 65, "..", ".hidden", "-rf", "a/b", "a:b", "a b", "é", "a\n", "a\x00"],
)
def test_what_is_not_an_id(text: str) -> None:
    assert not is_id(text)
    with pytest.raises(ValidationError):
        _Body(id=text)


def test_composite_ids_as_written_on_the_wire() -> None:
    assert segment_version("labs", 3) == "labs/v3"
    assert key_grant_id("g_1", "labs", 2) == "g_1/labs/v2"
    assert patient_key_id("u_p", "notes", 1) == "u_p/notes/v1"
    assert delegation_id("u_p", "u_d") == "u_p/u_d"
    assert blob_key("u_p", "r_1", "labs", 4) == "u_p/r_1/labs/v4"


#: regex-built ids are slow to generate on a loaded machine: no timing health check
LOADED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LOADED
@given(ids, ids, ids, versions)
def test_blob_key_round_trips(patient: str, record: str, segment: str, version: int) -> None:
    key = blob_key(patient, record, segment, version)
    assert parse_blob_key(key) == BlobRef(patient, record, segment, version)


@LOADED
@given(ids, ids, versions)
def test_key_grant_id_round_trips(grant: str, segment: str, version: int) -> None:
    ref = parse_key_grant_id(key_grant_id(grant, segment, version))
    assert ref == KeyGrantRef(grant, segment, version)


@pytest.mark.parametrize(
    "text", ["labs", "labs/3", "labs/v0", "labs/v01", "labs/v1/x", "../v1", "labs/v-1", "/v1"]
)
def test_malformed_segment_versions_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_segment_version(text)


@pytest.mark.parametrize(
    "text", ["u_p/r_1/labs", "u_p/../labs/v1", "u_p//labs/v1", "a:b/r/labs/v1"]
)
def test_malformed_blob_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_blob_key(text)
