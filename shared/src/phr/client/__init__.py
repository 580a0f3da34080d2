"""The SDK's crypto side (no HTTP): encrypt, share, open and decrypt records."""

from phr.client.access import (
    decrypt_record,
    decrypt_segment,
    grantee_secret,
    open_granted,
    owner_secret,
)
from phr.client.grant import Grant, SrsNode, make_grant
from phr.client.record import (
    ContributorKeys,
    EncryptedRecord,
    EncryptedSegment,
    OwnerKeys,
    PendingSegment,
    encrypt_record,
    encrypt_segment,
)
from phr.client.rotation import rewrap_capsule, rotate_segment
from phr.client.search import trapdoors_for

__all__ = [
    "ContributorKeys",
    "EncryptedRecord",
    "EncryptedSegment",
    "Grant",
    "OwnerKeys",
    "PendingSegment",
    "SrsNode",
    "decrypt_record",
    "decrypt_segment",
    "encrypt_record",
    "encrypt_segment",
    "grantee_secret",
    "make_grant",
    "open_granted",
    "owner_secret",
    "rewrap_capsule",
    "rotate_segment",
    "trapdoors_for",
]
