"""The access decision, pure: who may have which segment re-encrypted, and why not."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from srs import acl
from srs.acl import Allowed, Caller, Denied, decide_segment
from srs.models import GrantInfo, RecordInfo, SegmentCapsule

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DOCTOR = Caller("doc-1", "doctor", org="org-1", dept="cardio")
RECORD = RecordInfo(
    "rec-1",
    "pat-1",
    (SegmentCapsule("labs", 1, "c1"), SegmentCapsule("notes", 2, "c2")),
    uploaded_at=NOW - 24 * HOUR,
)


def grant(**kw: object) -> GrantInfo:
    base = GrantInfo(
        grant_id="g1",
        patient_id="pat-1",
        segments=("labs", "notes"),
        threshold=2,
        granted_by="pat-1",
        grantee_user_id="doc-1",
        key_versions=frozenset({("labs", 1), ("notes", 2)}),
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def decide(
    grants: list[GrantInfo],
    segment: str = "labs",
    caller: Caller = DOCTOR,
    record: RecordInfo | None = RECORD,
    reason: str | None = None,
    patient_id: str = "pat-1",
) -> acl.Decision:
    return decide_segment(
        caller=caller,
        patient_id=patient_id,
        record=record,
        segment=segment,
        grants=grants,
        now=NOW,
        breakglass_reason=reason,
    )


def test_user_grant_allows_its_grantee() -> None:
    assert decide([grant()]) == Allowed("labs", "g1", 1)
    assert decide([grant()], "notes") == Allowed("notes", "g1", 2)


def test_user_grant_does_not_serve_another_user() -> None:
    nurse = Caller("nurse-1", "nurse", org="org-1")
    assert decide([grant()], caller=nurse) == Denied("labs", acl.NO_GRANT)


@pytest.mark.parametrize(
    ("selector", "caller", "allowed"),
    [
        ({"role": "doctor"}, DOCTOR, True),
        ({"role": "doctor", "org": "org-1"}, DOCTOR, True),
        ({"role": "doctor", "org": "org-1", "dept": "cardio"}, DOCTOR, True),
        ({"role": "doctor", "organisation_id": "org-1"}, DOCTOR, True),
        ({"role": "doctor", "org": "org-2"}, DOCTOR, False),
        ({"role": "nurse"}, DOCTOR, False),
        ({"role": "doctor", "shoe_size": "42"}, DOCTOR, False),  # unknown key: fail closed
        ({}, DOCTOR, False),  # empty selector matches nobody
        # a patient never uses a group grant, even one selecting his role
        ({"role": "patient"}, Caller("pat-2", "patient"), False),
    ],
)
def test_group_grant_matches_token_attributes(
    selector: dict[str, str], caller: Caller, allowed: bool
) -> None:
    g = grant(grantee_user_id=None, grantee_group=selector)
    assert isinstance(decide([g], caller=caller), Allowed) is allowed


def test_expired_grant_is_denied() -> None:
    assert decide([grant(expires_at=NOW - HOUR)]) == Denied("labs", acl.EXPIRED)
    assert decide([grant(expires_at=NOW)]) == Denied("labs", acl.EXPIRED)  # [nb, exp)
    assert isinstance(decide([grant(expires_at=NOW + HOUR)]), Allowed)


def test_not_yet_started_grant_is_denied() -> None:
    assert decide([grant(not_before=NOW + HOUR)]) == Denied("labs", acl.NOT_YET_VALID)
    assert isinstance(decide([grant(not_before=NOW)]), Allowed)


def test_data_from_excludes_older_records() -> None:
    assert decide([grant(data_from=NOW - HOUR)]) == Denied("labs", acl.BEFORE_DATA_FROM)
    assert isinstance(decide([grant(data_from=NOW - 24 * HOUR)]), Allowed)  # on the bound
    unknown_time = dataclasses.replace(RECORD, uploaded_at=None)
    assert decide([grant(data_from=NOW - 48 * HOUR)], record=unknown_time) == Denied(
        "labs", acl.BEFORE_DATA_FROM
    )


def test_revoked_grant_is_denied() -> None:
    assert decide([grant(revoked_at=NOW - HOUR)]) == Denied("labs", acl.GRANT_REVOKED)


def test_revoked_caller_is_denied_whatever_the_grants() -> None:
    revoked = dataclasses.replace(DOCTOR, revoked=True)
    assert decide([grant()], caller=revoked) == Denied("labs", acl.CALLER_REVOKED)


def test_wrong_segment_is_denied() -> None:
    assert decide([grant(segments=("notes",))]) == Denied("labs", acl.SEGMENT_NOT_GRANTED)
    assert decide([grant()], "imaging") == Denied("imaging", acl.NO_SUCH_SEGMENT)


def test_key_version_of_the_capsule_must_be_granted() -> None:
    g = grant(key_versions=frozenset({("labs", 2)}))  # rotated, old capsule not re-granted
    assert decide([g]) == Denied("labs", acl.NO_KEY_GRANT)


def test_record_checks_come_first() -> None:
    assert decide([grant()], record=None) == Denied("labs", acl.UNKNOWN_RECORD)
    gone = dataclasses.replace(RECORD, deleted_at=NOW - HOUR)
    assert decide([grant()], record=gone) == Denied("labs", acl.RECORD_DELETED)
    assert decide([grant()], patient_id="pat-2") == Denied("labs", acl.OTHER_PATIENT)


def test_grant_of_another_patient_is_ignored() -> None:
    assert decide([grant(patient_id="pat-2")]) == Denied("labs", acl.NO_GRANT)


def test_breakglass_needs_a_reason() -> None:
    g = grant(emergency=True, grantee_user_id=None, grantee_group={"role": "doctor"})
    assert decide([g]) == Denied("labs", acl.BREAKGLASS_NEEDS_REASON)
    assert decide([g], reason="   ") == Denied("labs", acl.BREAKGLASS_NEEDS_REASON)
    assert decide([g], reason="unconscious, ER") == Allowed("labs", "g1", 1, breakglass=True)


def test_normal_grant_wins_over_emergency_grant() -> None:
    emergency = grant(
        grant_id="g0", emergency=True, grantee_user_id=None, grantee_group={"role": "doctor"}
    )
    normal = grant(grant_id="g9")
    assert decide([emergency, normal], reason="ER") == Allowed("labs", "g9", 1)


def test_reason_names_the_grant_that_came_closest() -> None:
    expired = grant(grant_id="g1", expires_at=NOW - HOUR)
    wrong_segment = grant(grant_id="g2", segments=("notes",))
    assert decide([wrong_segment, expired]) == Denied("labs", acl.EXPIRED)


def test_breakglass_window_opens_reuses_and_reopens() -> None:
    first = acl.breakglass_window(None, now=NOW, window_s=900)
    assert first.new and first.expires_in_s == 900 and first.opened_at == NOW
    later = acl.breakglass_window(NOW, now=NOW + timedelta(seconds=600), window_s=900)
    assert not later.new and later.expires_in_s == 300 and later.opened_at == NOW
    after = acl.breakglass_window(NOW, now=NOW + timedelta(seconds=900), window_s=900)
    assert after.new and after.expires_in_s == 900
