"""This service's errors (rendered as RFC 9457 problem+json by phr.service.problems).

DomainError (phr.service.problems)
├── Forbidden (403)
│   └── NotADataUser              a service token where a data user's is needed
├── NotFound (404)
│   └── RecordNotFound            owner-api knows no such committed record
├── Gone (410)
│   └── RecordGone                the record was deleted
├── BreakglassNeedsReason (422)   break-glass asked without a reason
└── Unavailable (503)
    ├── SrsUnavailable            fewer than t SRS nodes answered; names the others
    ├── UpstreamUnavailable       owner-api or cloud-store did not answer
    └── AuditUnavailable          access.requested could not be published
"""

from __future__ import annotations

from phr.service.problems import DomainError, Forbidden, NotFound, Unavailable


class NotADataUser(Forbidden):
    title, slug = "Not a data user", "not-a-data-user"


class RecordNotFound(NotFound):
    title, slug = "Record not found", "record-not-found"


class Gone(DomainError):
    status, title, slug = 410, "Gone", "gone"


class RecordGone(Gone):
    title, slug = "Record deleted", "record-gone"


class BreakglassNeedsReason(DomainError):
    status, title, slug = 422, "Break-glass needs a reason", "breakglass-needs-reason"


class SrsUnavailable(Unavailable):
    title, slug = "Not enough SRS nodes", "srs-unavailable"


class UpstreamUnavailable(Unavailable):
    title, slug = "Upstream service unavailable", "upstream-unavailable"


class AuditUnavailable(Unavailable):
    title, slug = "Audit trail unavailable", "audit-unavailable"
