"""Roles, organisation kinds and who counts as staff."""

from __future__ import annotations

from typing import Final, get_args

from phr.api.kgc import OrgKind, Role

ORG_KINDS: Final[tuple[str, ...]] = get_args(OrgKind)
ROLES: Final[tuple[str, ...]] = get_args(Role)

#: roles that enrol themselves and are active at once (no organisation)
SELF_ENROLLING: Final[frozenset[str]] = frozenset({"patient", "caregiver"})
#: reads the ledger's event bodies (every patient's trail); approved by the operator
#: only, and no staff member: an auditor reads the log, not records
AUDITOR: Final = "auditor"
#: roles that belong to an organisation and wait for an admin's approval (and the auditor)
STAFF: Final[frozenset[str]] = frozenset(ROLES) - SELF_ENROLLING - {AUDITOR}
#: the role of a service's own token (never held by a user)
SERVICE_ROLE: Final = "service"

__all__ = [
    "AUDITOR",
    "ORG_KINDS",
    "ROLES",
    "SELF_ENROLLING",
    "SERVICE_ROLE",
    "STAFF",
    "OrgKind",
    "Role",
]
