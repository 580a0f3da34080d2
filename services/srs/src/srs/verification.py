"""Check a grant event before this node keeps anything of it.

``owner-api`` signs the event, but it is untrusted for confidentiality; what makes a
grant is the patient's (or his delegate's) signature on each grant document. For each
:class:`SegmentKeyGrant` a node checks, all or nothing:

1. the document's Ed25519 signature (``verify_grant``);
2. the author: his key's fingerprint is the patient's enrolled one (``user.enrolled``
   from the KGC), or that of a delegate whose active delegation covers the segment;
   a revoked author signs nothing;
3. the document matches the event: patient, segment, key version, threshold, grant id
   (``<grant_id>`` or ``<grant_id>/<segment>/v<key_version>``), the grantee of a user
   grant, and the segment is one the event grants;
4. a sealed kfrag for THIS node is present, its SHA-256 is the document's
   ``kfrag_sha256[node_id]`` and it opens here under the document's grant id (a trial
   unseal; the kfrag is dropped at once, only the sealed form is kept).

The grant's validity window is the intersection of the event's and the documents'.
If the author cannot be checked yet (the patient or a covering delegate has not been
enrolled at this node), :class:`AuthorUnknown` asks the caller to keep the event
pending until the KGC's event arrives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from phr.api.ids import key_grant_id
from phr.crypto.errors import CryptoError
from phr.crypto.grants import GrantDocument, verify_grant
from phr.crypto.seal import NodeSecretKey, unseal
from phr.crypto.signing import SignatureInvalid, VerifyKey, b64u_decode
from phr.events.acl import AclGranted, SegmentKeyGrant
from srs.errors import AuthorUnknown, GrantRejected
from srs.models import Delegation, KeyGrant, SealedKfrag, UserInfo, as_utc


@dataclass(frozen=True)
class NodeIdentity:
    """Who this node is, for the checks: its id and X25519 secret (masked repr)."""

    node_id: str
    secret: NodeSecretKey


@dataclass(frozen=True)
class VerifiedGrant:
    key_grants: tuple[KeyGrant, ...]
    not_before: datetime | None
    expires_at: datetime | None


def parse_time(text: str | None) -> datetime | None:
    """ISO 8601 from a grant document; naive means UTC. Raises GrantRejected if malformed."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise GrantRejected(f"malformed time {text!r} in grant document") from None
    return as_utc(value)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _author_ok(
    doc: GrantDocument,
    segment: str,
    patient: UserInfo | None,
    delegations: Sequence[Delegation],
    users: Mapping[str, UserInfo],
) -> None:
    try:
        author_fp = VerifyKey.from_b64(doc.author).fingerprint()
    except ValueError:
        raise GrantRejected("malformed author key") from None
    if patient is not None and author_fp == patient.ed25519_fp:
        if patient.revoked:
            raise GrantRejected("grant author (the patient) is revoked")
        return
    covering = [d for d in delegations if d.covers(segment)]
    for delegation in covering:
        delegate = users.get(delegation.delegate_user_id)
        if delegate is not None and delegate.ed25519_fp == author_fp:
            if delegate.revoked:
                raise GrantRejected("grant author (a delegate) is revoked")
            return
    unknown = patient is None or any(d.delegate_user_id not in users for d in covering)
    if unknown:
        raise AuthorUnknown("grant author cannot be checked yet")
    raise GrantRejected("grant author is neither the patient nor an active delegate")


def _check_key_grant(
    event: AclGranted,
    kg: SegmentKeyGrant,
    node: NodeIdentity,
    patient: UserInfo | None,
    delegations: Sequence[Delegation],
    users: Mapping[str, UserInfo],
) -> tuple[KeyGrant, GrantDocument]:
    where = f"{kg.segment} v{kg.key_version}"
    try:
        doc = verify_grant(kg.signed_grant)
    except SignatureInvalid:
        raise GrantRejected(f"{where}: grant signature does not verify") from None
    composite = key_grant_id(event.grant_id, kg.segment, kg.key_version)
    mismatches = [
        name
        for name, ok in (
            ("patient", doc.patient_id == event.patient_id),
            ("segment", doc.segment == kg.segment and kg.segment in event.segments),
            ("key_version", doc.key_version == kg.key_version),
            ("threshold", doc.threshold == event.threshold),
            ("grant_id", doc.grant_id in (event.grant_id, composite)),
            (
                "grantee",
                event.grantee_user_id is None or doc.grantee_id == event.grantee_user_id,
            ),
        )
        if not ok
    ]
    if mismatches:
        raise GrantRejected(f"{where}: document does not match the event: {mismatches}")
    _author_ok(doc, kg.segment, patient, delegations, users)
    sealed_b64 = kg.sealed_kfrags.get(node.node_id)
    if sealed_b64 is None:
        raise GrantRejected(f"{where}: no kfrag for node {node.node_id}")
    try:
        sealed = b64u_decode(sealed_b64)
    except ValueError:
        raise GrantRejected(f"{where}: malformed sealed kfrag") from None
    if hashlib.sha256(sealed).hexdigest() != doc.kfrag_sha256.get(node.node_id):
        raise GrantRejected(f"{where}: kfrag hash does not match the grant document")
    try:
        unseal(node.secret, sealed, node_id=node.node_id, grant_id=doc.grant_id)
    except CryptoError:
        raise GrantRejected(f"{where}: kfrag does not open at this node") from None
    key_grant = KeyGrant(
        grant_id=event.grant_id,
        patient_id=event.patient_id,
        segment=kg.segment,
        key_version=kg.key_version,
        signed_grant=kg.signed_grant,
        sealed_kfrag=SealedKfrag(sealed),
    )
    return key_grant, doc


def verify_acl_grant(
    event: AclGranted,
    node: NodeIdentity,
    *,
    patient: UserInfo | None,
    delegations: Sequence[Delegation] = (),
    users: Mapping[str, UserInfo] | None = None,
) -> VerifiedGrant:
    """Every key grant checked (see module doc); raises GrantRejected or AuthorUnknown.

    ``users`` holds the delegates' enrolment (by user id).
    """
    if (event.grantee_user_id is None) == (event.grantee_group is None):
        raise GrantRejected("a grant names either one user or one group")
    if not event.key_grants:
        raise GrantRejected("a grant without key grants")
    seen: set[tuple[str, int]] = set()
    key_grants: list[KeyGrant] = []
    not_before, expires_at = as_utc(event.not_before), as_utc(event.expires_at)
    pending: AuthorUnknown | None = None
    for kg in event.key_grants:
        if (kg.segment, kg.key_version) in seen:
            raise GrantRejected(f"{kg.segment} v{kg.key_version} appears twice")
        seen.add((kg.segment, kg.key_version))
        try:
            key_grant, doc = _check_key_grant(event, kg, node, patient, delegations, users or {})
        except AuthorUnknown as exc:
            # Keep checking the others: a forged one must be rejected now, not later.
            pending = exc
            continue
        key_grants.append(key_grant)
        not_before = _later(not_before, parse_time(doc.not_before))
        expires_at = _earlier(expires_at, parse_time(doc.expires_at))
    if pending is not None:
        raise pending
    return VerifiedGrant(tuple(key_grants), not_before, expires_at)
