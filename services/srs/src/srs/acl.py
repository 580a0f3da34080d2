"""The access decision, pure: may this caller have this segment of this record re-encrypted?

A segment is served under one *usable* grant:

- addressed to the caller: ``grantee_user_id`` is the caller's user id, or the grant has
  a group selector (``role``/``org``/``dept``) that the caller's KGC-signed token
  attributes all match *and* the caller holds a staff role (a patient or caregiver uses
  only grants made to him by name);
- covering the segment, not revoked, ``not_before <= now < expires_at``;
- the record was uploaded on or after the grant's ``data_from`` (unknown upload time:
  denied, we fail closed);
- a key grant exists for the key version of the record's capsule of that segment;
- an emergency grant only with a break-glass reason.

Before any grant is looked at, the caller must not be revoked, and the record must be
known here, belong to the patient named and not be deleted. When several grants are
usable a normal grant wins over an emergency one (no break-glass when none is needed).
When none is, the reason given is that of the candidate grant that passed the most
checks, so a caller learns "expired" rather than "no grant" when he had one.

Break-glass windows: the first emergency request of a requester on a patient opens a
window of ``window_s`` seconds; requests inside it reuse it (``expires_in_s`` counts
down); a request after it, again with a reason, opens a new window. Every request
served under an emergency grant is announced as ``access.breakglass``, so the patient
sees each one; the window bounds what one announcement covers in time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from phr.events.selectors import selector_matches
from phr.identity.roles import STAFF
from srs.models import GrantInfo, RecordInfo

# Reasons for a denial, as they appear in responses and access.denied events.
CALLER_REVOKED: Final = "caller revoked"
UNKNOWN_RECORD: Final = "unknown record"
RECORD_DELETED: Final = "record deleted"
OTHER_PATIENT: Final = "record belongs to another patient"
NO_SUCH_SEGMENT: Final = "segment not in record"
NO_GRANT: Final = "no grant"
SEGMENT_NOT_GRANTED: Final = "segment not granted"
GRANT_REVOKED: Final = "grant revoked"
NOT_YET_VALID: Final = "grant not yet valid"
EXPIRED: Final = "grant expired"
BEFORE_DATA_FROM: Final = "record predates the grant's data_from"
NO_KEY_GRANT: Final = "no key grant for this key version"
BREAKGLASS_NEEDS_REASON: Final = "break-glass needs a reason"
REENCRYPTION_FAILED: Final = "re-encryption failed"


@dataclass(frozen=True)
class Caller:
    """The data user, from his verified token (attributes signed by the KGC)."""

    user_id: str
    role: str
    org: str | None = None
    dept: str | None = None
    revoked: bool = False

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def attribute(self, name: str) -> str | None:
        return {"role": self.role, "org": self.org, "dept": self.dept}.get(name)


@dataclass(frozen=True)
class Allowed:
    segment: str
    grant_id: str
    key_version: int
    breakglass: bool = False


@dataclass(frozen=True)
class Denied:
    segment: str
    reason: str


Decision = Allowed | Denied


def group_matches(selector: Mapping[str, str] | None, caller: Caller) -> bool:
    """Every selector attribute equals the caller's (see :mod:`phr.events.selectors`)."""
    return selector_matches(selector, role=caller.role, org=caller.org, dept=caller.dept)


def addressed_to(grant: GrantInfo, caller: Caller) -> bool:
    """The grant names the caller, or (staff only) a group the caller belongs to."""
    if grant.grantee_user_id is not None:
        return grant.grantee_user_id == caller.user_id
    return caller.is_staff and group_matches(grant.grantee_group, caller)


def _check_grant(
    grant: GrantInfo,
    *,
    record: RecordInfo,
    segment: str,
    key_version: int,
    now: datetime,
    breakglass_reason: str | None,
) -> tuple[int, str | None]:
    """(how many checks passed, the failing reason or None when usable)."""
    checks: list[tuple[bool, str]] = [
        (segment in grant.segments, SEGMENT_NOT_GRANTED),
        (not grant.revoked, GRANT_REVOKED),
        (grant.not_before is None or now >= grant.not_before, NOT_YET_VALID),
        (grant.expires_at is None or now < grant.expires_at, EXPIRED),
        (
            grant.data_from is None
            or (record.uploaded_at is not None and record.uploaded_at >= grant.data_from),
            BEFORE_DATA_FROM,
        ),
        ((segment, key_version) in grant.key_versions, NO_KEY_GRANT),
        (not grant.emergency or bool(breakglass_reason), BREAKGLASS_NEEDS_REASON),
    ]
    for passed, (ok, reason) in enumerate(checks):
        if not ok:
            return passed, reason
    return len(checks), None


def decide_segment(
    *,
    caller: Caller,
    patient_id: str,
    record: RecordInfo | None,
    segment: str,
    grants: Iterable[GrantInfo],
    now: datetime,
    breakglass_reason: str | None = None,
) -> Decision:
    """The decision for one segment; ``grants`` are the patient's grants at this node."""
    reason = (breakglass_reason or "").strip() or None
    if caller.revoked:
        return Denied(segment, CALLER_REVOKED)
    if record is None:
        return Denied(segment, UNKNOWN_RECORD)
    if record.patient_id != patient_id:
        return Denied(segment, OTHER_PATIENT)
    if record.deleted_at is not None:
        return Denied(segment, RECORD_DELETED)
    capsule = record.segment(segment)
    if capsule is None:
        return Denied(segment, NO_SUCH_SEGMENT)

    usable: list[GrantInfo] = []
    best: tuple[int, str] = (-1, NO_GRANT)
    for grant in sorted(grants, key=lambda g: g.grant_id):
        if grant.patient_id != patient_id or not addressed_to(grant, caller):
            continue
        passed, failure = _check_grant(
            grant,
            record=record,
            segment=segment,
            key_version=capsule.key_version,
            now=now,
            breakglass_reason=reason,
        )
        if failure is None:
            usable.append(grant)
        elif passed > best[0]:
            best = (passed, failure)
    if not usable:
        return Denied(segment, best[1])
    chosen = next((g for g in usable if not g.emergency), usable[0])
    return Allowed(segment, chosen.grant_id, capsule.key_version, breakglass=chosen.emergency)


@dataclass(frozen=True)
class BreakglassWindow:
    opened_at: datetime
    expires_in_s: int
    new: bool


def breakglass_window(
    opened_at: datetime | None, *, now: datetime, window_s: int
) -> BreakglassWindow:
    """Reuse the requester's open window on this patient, or open a new one at ``now``."""
    if opened_at is not None and now < opened_at + timedelta(seconds=window_s):
        remaining = (opened_at + timedelta(seconds=window_s) - now).total_seconds()
        return BreakglassWindow(opened_at, max(1, int(remaining)), new=False)
    return BreakglassWindow(now, window_s, new=True)
