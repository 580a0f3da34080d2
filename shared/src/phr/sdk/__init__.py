"""The SDK's HTTP side: typed async clients of the services (crypto stays in phr.client).

The public API is ``__all__`` (``shared/tests/dist`` imports every name of it in an
interpreter where no server framework can be imported). Names load lazily, on first
use, so importing one client does not import the others. The bodies the clients send
and read are ``phr.api``'s models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phr.client.verifier import AccessIntegrityError, OpenedAccess, SegmentGrant
    from phr.sdk.access import (
        AccessClient,
        AccessDenied,
        AccessError,
        Match,
        OpenedRecord,
        SearchKey,
    )
    from phr.sdk.errors import ApiError, Unreachable
    from phr.sdk.identity import IdentityClient, enrolment_request
    from phr.sdk.records import IntegrityError, RecordsClient, RecordsError, SegmentSource
    from phr.sdk.sharing import NoSegmentKey, SharingClient, SharingError
    from phr.sdk.transport import new_client

#: public name -> the module that defines it
_WHERE = {
    "AccessClient": "phr.sdk.access",
    "AccessDenied": "phr.sdk.access",
    "AccessError": "phr.sdk.access",
    "AccessIntegrityError": "phr.client.verifier",
    "ApiError": "phr.sdk.errors",
    "IdentityClient": "phr.sdk.identity",
    "IntegrityError": "phr.sdk.records",
    "Match": "phr.sdk.access",
    "NoSegmentKey": "phr.sdk.sharing",
    "OpenedAccess": "phr.client.verifier",
    "OpenedRecord": "phr.sdk.access",
    "RecordsClient": "phr.sdk.records",
    "RecordsError": "phr.sdk.records",
    "SearchKey": "phr.sdk.access",
    "SegmentGrant": "phr.client.verifier",
    "SegmentSource": "phr.sdk.records",
    "SharingClient": "phr.sdk.sharing",
    "SharingError": "phr.sdk.sharing",
    "Unreachable": "phr.sdk.errors",
    "enrolment_request": "phr.sdk.identity",
    "new_client": "phr.sdk.transport",
}

__all__ = [
    "AccessClient",
    "AccessDenied",
    "AccessError",
    "AccessIntegrityError",
    "ApiError",
    "IdentityClient",
    "IntegrityError",
    "Match",
    "NoSegmentKey",
    "OpenedAccess",
    "OpenedRecord",
    "RecordsClient",
    "RecordsError",
    "SearchKey",
    "SegmentGrant",
    "SegmentSource",
    "SharingClient",
    "SharingError",
    "Unreachable",
    "enrolment_request",
    "new_client",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'phr.sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
