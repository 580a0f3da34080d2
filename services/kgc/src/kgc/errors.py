"""The KGC's errors (rendered as RFC 9457 problems by phr.service.problems).

DomainError
├── BadRequest
│   ├── InvalidKey (400)            a public key that does not parse
│   ├── ProofInvalid (400)          enrolment not signed by the enrolled key
│   ├── UnreadableSecret (400)      a leaked key given for tracing does not parse
│   └── SelectorInvalid (400)       a group selector with unknown keys or no staff role
├── Unauthorized
│   └── LoginFailed (401)           unknown/expired/used challenge, bad signature
├── Forbidden
│   ├── NotActive (403)             pending or revoked user asks for a token
│   ├── NotYourOrganisation (403)   an admin acts outside his organisation
│   └── NotAGroupMember (403)       asks for a group key without matching its selector
├── NotFound
│   ├── UserNotFound (404)
│   ├── OrganisationNotFound (404)
│   ├── UnknownKey (404)            a traced key belongs to nobody enrolled
│   └── GroupNotFound (404)
├── Conflict
│   ├── KeyAlreadyEnrolled (409)
│   ├── OrganisationExists (409)
│   └── NotPending (409)            approving someone not pending
└── TooManyRequests
    └── LoginRateLimited (429)      too many failed logins; Retry-After
"""

from __future__ import annotations

from phr.service.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
)


class InvalidKey(BadRequest):
    title, slug = "Invalid public key", "invalid-key"


class ProofInvalid(BadRequest):
    title, slug = "Proof of possession invalid", "proof-invalid"


class UnreadableSecret(BadRequest):
    title, slug = "Unreadable secret key", "unreadable-secret"


class LoginFailed(Unauthorized):
    title, slug = "Login failed", "login-failed"


class NotActive(Forbidden):
    title, slug = "User not active", "user-not-active"


class NotYourOrganisation(Forbidden):
    title, slug = "Outside your organisation", "not-your-organisation"


class UserNotFound(NotFound):
    title, slug = "User not found", "user-not-found"


class OrganisationNotFound(NotFound):
    title, slug = "Organisation not found", "organisation-not-found"


class UnknownKey(NotFound):
    title, slug = "Unknown key", "unknown-key"


class KeyAlreadyEnrolled(Conflict):
    title, slug = "Key already enrolled", "key-already-enrolled"


class OrganisationExists(Conflict):
    title, slug = "Organisation exists", "organisation-exists"


class NotPending(Conflict):
    title, slug = "User not pending", "user-not-pending"


class LoginRateLimited(TooManyRequests):
    title, slug = "Too many failed logins", "login-rate-limited"


class SelectorInvalid(BadRequest):
    title, slug = "Invalid group selector", "selector-invalid"


class NotAGroupMember(Forbidden):
    title, slug = "Not a member of this group", "not-a-group-member"


class GroupNotFound(NotFound):
    title, slug = "Group not found", "group-not-found"
