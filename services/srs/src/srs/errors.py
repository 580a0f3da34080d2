"""This service's errors.

DomainError (phr.service.problems)
├── Forbidden (403)
│   └── NotADataUser          a service token (or none of a user) asks for re-encryption
├── BadRequest (400)
│   └── TooManySegments       more segments in one request than the node allows
└── Unavailable (503)
    └── AuditUnavailable      access events could not be published: no cfrags given out

Internal (never rendered; they steer the event handlers):

SrsEventError
├── GrantRejected             a grant event fails a check: nothing of it is kept
└── AuthorUnknown             a grant's author is not enrolled here yet: kept pending
"""

from __future__ import annotations

from phr.service.problems import BadRequest, Forbidden, Unavailable


class NotADataUser(Forbidden):
    title, slug = "Not a data user", "not-a-data-user"


class TooManySegments(BadRequest):
    title, slug = "Too many segments", "too-many-segments"


class AuditUnavailable(Unavailable):
    title, slug = "Audit trail unavailable", "audit-unavailable"


class SrsEventError(Exception):
    """An event this node cannot apply as it stands."""


class GrantRejected(SrsEventError):
    """The grant event fails verification; the reason names no secret."""


class AuthorUnknown(SrsEventError):
    """The grant's author cannot be checked until the KGC's enrolment event arrives."""
