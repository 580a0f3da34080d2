"""The SRS node's one crypto operation: unseal its kfrag and re-encrypt a capsule.

The SRS service checks the ACL, revocation and expiry first, then calls
:func:`reencrypt_sealed`. It never sees a data key: the kfrag transforms the
capsule for the grantee only.
"""

from __future__ import annotations

from phr.crypto.pre import (
    KeyCapsule,
    PrePublicKey,
    VerifiedKeyFrag,
    reencrypt_verified,
    verify_kfrag,
)
from phr.crypto.seal import NodeSecretKey, unseal


def open_sealed_kfrag(
    node_sk: NodeSecretKey,
    *,
    node_id: str,
    grant_id: str,
    sealed_kfrag: bytes,
    verifying_pk: PrePublicKey,
    delegating_pk: PrePublicKey,
    receiving_pk: PrePublicKey,
) -> VerifiedKeyFrag:
    """Unseal this node's kfrag of a grant and verify it against the grant's keys.

    Raises ``UnsealError`` (not this node's kfrag, or another grant's) or
    ``KeyFragInvalid`` (kfrag not signed by ``verifying_pk`` for these keys).
    """
    kfrag = unseal(node_sk, sealed_kfrag, node_id=node_id, grant_id=grant_id)
    return verify_kfrag(
        kfrag, verifying_pk=verifying_pk, delegating_pk=delegating_pk, receiving_pk=receiving_pk
    )


def reencrypt_sealed(
    node_sk: NodeSecretKey,
    *,
    node_id: str,
    grant_id: str,
    sealed_kfrag: bytes,
    capsule: KeyCapsule | bytes,
    verifying_pk: PrePublicKey,
    delegating_pk: PrePublicKey,
    receiving_pk: PrePublicKey,
) -> bytes:
    """Return the cfrag bytes for ``capsule``.

    Raises ``UnsealError`` (not this node's kfrag, or another grant's),
    ``KeyFragInvalid`` (kfrag not signed by ``verifying_pk`` for these keys) or
    ``FormatError`` (malformed input).
    """
    if isinstance(capsule, bytes):
        capsule = KeyCapsule.from_bytes(capsule)
    verified = open_sealed_kfrag(
        node_sk,
        node_id=node_id,
        grant_id=grant_id,
        sealed_kfrag=sealed_kfrag,
        verifying_pk=verifying_pk,
        delegating_pk=delegating_pk,
        receiving_pk=receiving_pk,
    )
    return reencrypt_verified(capsule, verified)
