"""The SRS node's crypto: unseal its kfrag of a grant, verify it, re-encrypt capsules.

The SRS service checks the ACL, revocation and expiry first, then calls
:func:`open_sealed_kfrag` (once per grant; it may keep the result while the grant
stands) and :func:`phr.crypto.pre.reencrypt_verified` per capsule. It never sees a
data key: the kfrag transforms the capsule for the grantee only.
"""

from __future__ import annotations

from phr.crypto.pre import PrePublicKey, VerifiedKeyFrag, verify_kfrag
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
