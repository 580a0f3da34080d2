"""Pure checks of a grant's key grants before owner-api records or announces anything.

SRS nodes check each signed grant again (they trust owner-api for nothing); checking
here too turns a bad grant into a 400 for the client rather than an event every node
rejects. For each key grant, all or nothing:

1. the document's Ed25519 signature holds and its author is the caller's enrolled key
   (the token's ``kfp`` claim): a delegate signs with his own key;
2. it matches the request: patient, segment (one of the grant's), key version,
   threshold, grant id ``<grant_id>/<segment>/v<key_version>``, grantee id, receiving
   key (the KGC's key of the user or group), validity window;
3. its sealed kfrags are one per SRS node of the deployment, each pinned by SHA-256
   in the document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from owner_api.errors import GrantInvalid
from phr.api.ids import key_grant_id
from phr.api.owner import KeyGrantIn
from phr.crypto.grants import GrantDocument, verify_grant
from phr.crypto.signing import SignatureInvalid, VerifyKey, b64u_decode


@dataclass(frozen=True)
class GrantTerms:
    """What every key grant of one grant must agree with."""

    patient_id: str
    grant_id: str
    grantee_id: str
    receiving_pks: frozenset[str]
    segments: frozenset[str]
    threshold: int
    author_fp: str
    not_before: datetime | None = None
    expires_at: datetime | None = None


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise GrantInvalid(f"malformed time {text!r} in a signed grant") from None
    return millis(value.replace(tzinfo=UTC) if value.tzinfo is None else value)


def millis(value: datetime | None) -> datetime | None:
    """Truncated to milliseconds: what Mongo keeps of a stored time."""
    if value is None:
        return None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def check_key_grant(kg: KeyGrantIn, terms: GrantTerms, nodes: Collection[str]) -> GrantDocument:
    where = f"{kg.segment} v{kg.key_version}"
    try:
        doc = verify_grant(kg.signed_grant)
    except SignatureInvalid as exc:
        raise GrantInvalid(f"{where}: signed grant rejected: {exc}") from None
    try:
        author_fp = VerifyKey.from_b64(doc.author).fingerprint()
    except ValueError:
        raise GrantInvalid(f"{where}: malformed author key") from None
    if author_fp != terms.author_fp:
        raise GrantInvalid(f"{where}: not signed by the caller's enrolled key")
    mismatches = [
        name
        for name, ok in (
            ("patient", doc.patient_id == terms.patient_id),
            ("segment", doc.segment == kg.segment and kg.segment in terms.segments),
            ("key_version", doc.key_version == kg.key_version),
            ("threshold", doc.threshold == terms.threshold),
            ("grant_id", doc.grant_id == key_grant_id(terms.grant_id, kg.segment, kg.key_version)),
            ("grantee", doc.grantee_id == terms.grantee_id),
            ("receiving_pk", doc.receiving_pk in terms.receiving_pks),
            ("not_before", _time(doc.not_before) == millis(terms.not_before)),
            ("expires_at", _time(doc.expires_at) == millis(terms.expires_at)),
        )
        if not ok
    ]
    if mismatches:
        raise GrantInvalid(f"{where}: signed grant does not match the request: {mismatches}")
    if nodes and set(kg.sealed_kfrags) != set(nodes):
        raise GrantInvalid(f"{where}: need one sealed kfrag for each SRS node {sorted(nodes)}")
    if doc.threshold > len(kg.sealed_kfrags):
        raise GrantInvalid(f"{where}: threshold above the number of kfrags")
    for node, sealed in kg.sealed_kfrags.items():
        try:
            digest = hashlib.sha256(b64u_decode(sealed)).hexdigest()
        except ValueError:
            raise GrantInvalid(f"{where}: malformed sealed kfrag for {node}") from None
        if doc.kfrag_sha256.get(node) != digest:
            raise GrantInvalid(f"{where}: kfrag for {node} is not the one the grant pins")
    return doc


def check_key_grants(
    key_grants: Sequence[KeyGrantIn], terms: GrantTerms, nodes: Collection[str]
) -> list[tuple[str, int, str]]:
    """(segment, key version, receiving key) of each key grant; GrantInvalid otherwise."""
    seen: set[tuple[str, int]] = set()
    out = []
    for kg in key_grants:
        if (kg.segment, kg.key_version) in seen:
            raise GrantInvalid(f"{kg.segment} v{kg.key_version} appears twice")
        seen.add((kg.segment, kg.key_version))
        doc = check_key_grant(kg, terms, nodes)
        out.append((kg.segment, kg.key_version, doc.receiving_pk))
    return out
