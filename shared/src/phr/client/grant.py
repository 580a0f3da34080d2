"""Make a grant: t-of-N kfrags from a segment key to a grantee, each sealed to one SRS node."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from phr.crypto.grants import GrantDocument, SignedGrant, sign_grant
from phr.crypto.keys import PatientMasterKey
from phr.crypto.pre import PrePublicKey, PreSecretKey, generate_kfrags
from phr.crypto.seal import NodePublicKey, seal
from phr.crypto.signing import SigningKey


@dataclass(frozen=True)
class SrsNode:
    node_id: str
    public_key: NodePublicKey


@dataclass(frozen=True)
class Grant:
    """The signed grant document and one sealed kfrag per SRS node id."""

    signed: SignedGrant
    sealed_kfrags: dict[str, bytes]


def make_grant(
    master: PatientMasterKey,
    author: SigningKey,
    *,
    patient_id: str,
    grantee_id: str,
    grantee_pk: PrePublicKey,
    segment: str,
    key_version: int,
    nodes: Sequence[SrsNode],
    threshold: int,
    grant_id: str | None = None,
    not_before: str | None = None,
    expires_at: str | None = None,
    purpose: str | None = None,
) -> Grant:
    """One kfrag per node (N = len(nodes)); any ``threshold`` nodes together re-encrypt."""
    return make_grant_from_keys(
        master.segment_secret_key(segment, key_version),
        master.kfrag_signer(),
        author,
        patient_id=patient_id,
        grantee_id=grantee_id,
        grantee_pk=grantee_pk,
        segment=segment,
        key_version=key_version,
        nodes=nodes,
        threshold=threshold,
        grant_id=grant_id,
        not_before=not_before,
        expires_at=expires_at,
        purpose=purpose,
    )


def make_grant_from_keys(
    segment_sk: PreSecretKey,
    kfrag_signer: PreSecretKey,
    author: SigningKey,
    *,
    patient_id: str,
    grantee_id: str,
    grantee_pk: PrePublicKey,
    segment: str,
    key_version: int,
    nodes: Sequence[SrsNode],
    threshold: int,
    grant_id: str | None = None,
    not_before: str | None = None,
    expires_at: str | None = None,
    purpose: str | None = None,
) -> Grant:
    """:func:`make_grant` from a segment secret key held directly (a delegate's case:
    the patient handed him that key; he signs kfrags with his own Umbral key)."""
    if len({n.node_id for n in nodes}) != len(nodes):
        raise ValueError("SRS node ids must be unique")
    grant_id = grant_id or str(uuid.uuid4())
    kfrags = generate_kfrags(
        segment_sk, grantee_pk, kfrag_signer, threshold=threshold, shares=len(nodes)
    )
    sealed = {
        node.node_id: seal(node.public_key, kfrag, node_id=node.node_id, grant_id=grant_id)
        for node, kfrag in zip(nodes, kfrags, strict=True)
    }
    document = GrantDocument(
        grant_id=grant_id,
        patient_id=patient_id,
        grantee_id=grantee_id,
        segment=segment,
        key_version=key_version,
        threshold=threshold,
        delegating_pk=segment_sk.public_key().b64(),
        receiving_pk=grantee_pk.b64(),
        verifying_pk=kfrag_signer.public_key().b64(),
        kfrag_sha256={n: hashlib.sha256(s).hexdigest() for n, s in sealed.items()},
        not_before=not_before,
        expires_at=expires_at,
        purpose=purpose,
        author=author.verify_key.b64(),
    )
    return Grant(sign_grant(document, author), sealed)
