"""Who may read which event body (issue 19, part 2).

The log's shape is public: checkpoints, consistency proofs, block headers and leaf
hashes, enough for a witness or anyone to see that it does not fork. Event bodies say
who saw what and when, which is health data: each goes only to

- the patient it concerns (its ``subject``),
- the parties it names, for their own entries (a grantee, a requester, the author of a
  grant or revocation, a delegate: the fields of :data:`PARTY_FIELDS`),
- an auditor (role ``auditor``, which only the operator approves at the KGC) and the
  services themselves.

An organisation's admin is none of these: he reads no patient's trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from phr.identity.roles import AUDITOR
from phr.identity.tokens import Principal
from phr.service.problems import Forbidden

#: the fields of event data that name a user (the subject is the patient)
PARTY_FIELDS: Final = frozenset(
    {
        "patient_id",
        "user_id",
        "requester_id",
        "grantee_user_id",
        "delegate_user_id",
        "granted_by",
        "revoked_by",
        "uploaded_by",
        "deleted_by",
        "rotated_by",
        "changed_by",
        "approved_by",
        "traced_by",
        "on_behalf_of",
    }
)


def reads_everything(caller: Principal) -> bool:
    """Auditors and services read every event body."""
    return caller.is_service or caller.role == AUDITOR


def parties(envelope: Mapping[str, Any]) -> set[str]:
    """The users an event concerns: its subject and the users its data names."""
    named = {str(envelope.get("subject", ""))}
    data = envelope.get("data")
    if isinstance(data, Mapping):
        named |= {v for k, v in data.items() if k in PARTY_FIELDS and isinstance(v, str)}
    named.discard("")
    return named


def may_read(caller: Principal, envelope: Mapping[str, Any]) -> bool:
    return reads_everything(caller) or caller.sub in parties(envelope)


def ensure_may_read(caller: Principal, envelope: Mapping[str, Any]) -> None:
    if not may_read(caller, envelope):
        raise Forbidden(
            "an event is for the patient it concerns, the parties it names and auditors"
        )


def ensure_subject_reader(caller: Principal, subject: str | None) -> None:
    """A patient reads the events about himself; auditors and services any subject's."""
    if reads_everything(caller):
        return
    if subject is None or caller.sub != subject:
        raise Forbidden("a patient's events are for him, auditors and services")


def ensure_auditor(caller: Principal) -> None:
    if not reads_everything(caller):
        raise Forbidden("only an auditor or a service may do this")


#: the fields naming a party to an event, not merely its author (``names``)
NAMED_PARTY_FIELDS: Final = ("requester_id", "grantee_user_id", "uploaded_by", "delegate_user_id")


def names(event: Mapping[str, Any], user_id: str) -> bool:
    """Whether ``event``'s data names ``user_id`` as a party (not merely as its author)."""
    data = event.get("data")
    return isinstance(data, Mapping) and any(data.get(f) == user_id for f in NAMED_PARTY_FIELDS)
