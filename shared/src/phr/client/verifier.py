"""The one verifier of an access answer: SRS node answers, the threshold rule, the cfrags.

An access answer (user-api's ``POST /v1/access``) carries every SRS node's signed
answer as the node signed it. Two parties read it with the same rules, written here:

- user-api, which holds no secret, :func:`tally`: which segments at least ``t`` nodes
  granted on one signed grant. It serves ciphertext and the manifest only for those.
- the reader, :func:`open_access`: the same count, then every grant's patient
  signature, every cfrag against the capsule, and the capsule opened with the reader's
  receiving key. A node that lies (foreign grant, forged cfrag) is named, skipped,
  and the capsule still opens with ``t`` honest ones.

The rules:

- an answer counts only if signed by the node it names (its key from the KGC's
  parameters) and it echoes the request (:func:`phr.client.srs.verify_node_answer`);
  an unknown or repeated node is ignored;
- per segment, cfrags are grouped by the exact signed grant they come with (the
  SHA-256 of its canonical JSON): a node lying about the grant ends up alone in its group;
- a group is *usable* when it has at least :func:`needed` cfrags from distinct nodes:
  the larger of the deployment's threshold and the grant document's own.

Pure: no I/O, no clock; the Umbral work is in :func:`phr.client.access.open_granted`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from phr.client.access import open_granted
from phr.client.srs import NodeAnswerInvalid, verify_node_answer
from phr.crypto.canonical import canonical_json
from phr.crypto.errors import CryptoError
from phr.crypto.grants import GrantDocument, verify_grant
from phr.crypto.manifest import RecordManifest, SegmentEntry, verify_manifest
from phr.crypto.pre import PreSecretKey
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import SignatureInvalid, VerifyKey, b64u_decode

__all__ = [
    "AccessIntegrityError",
    "Candidate",
    "GrantVerifier",
    "OpenedAccess",
    "SegmentGrant",
    "Tally",
    "TalliedSegment",
    "candidates",
    "needed",
    "open_access",
    "tally",
    "verified_answers",
]


class AccessIntegrityError(Exception):
    """What came back does not check out: manifest, node answers, cfrags or ciphertext."""


# -------------------------------------------------------------------- the rules


def needed(deployment_threshold: int, grant_threshold: int) -> int:
    """cfrags from distinct nodes a segment needs: the larger of the two thresholds."""
    return max(deployment_threshold, grant_threshold, 1)


def verified_answers(
    bodies: Sequence[Any], node_keys: Mapping[str, VerifyKey], expected: Mapping[str, str]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The answers that verify, by node id, and why the others do not."""
    answers: dict[str, dict[str, Any]] = {}
    suspicious: dict[str, str] = {}
    for body in bodies:
        node_id = str(body.get("node_id", "")) if isinstance(body, dict) else ""
        key = node_keys.get(node_id)
        if key is None or node_id in answers:
            suspicious[node_id or "?"] = "unknown or repeated node"
            continue
        try:
            answers[node_id] = verify_node_answer(node_id, key, body, expected)
        except NodeAnswerInvalid as exc:
            suspicious[node_id] = str(exc)
    return answers, suspicious


def _grant_key(signed_grant: Any) -> str | None:
    """The group of a cfrag: the SHA-256 of its signed grant, whole (RFC 8785 JSON), so
    a node sending an altered copy under a valid signature is alone in its group."""
    if not isinstance(signed_grant, dict) or not isinstance(signed_grant.get("signature"), str):
        return None
    try:
        return hashlib.sha256(canonical_json(signed_grant)).hexdigest()
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Candidate:
    """The cfrags of one segment that came with one and the same signed grant."""

    segment: str
    grant_key: str
    signed_grant: dict[str, Any]
    #: (node id, the node's granted item), one per node, in node order
    items: tuple[tuple[str, dict[str, Any]], ...]

    @property
    def declared_threshold(self) -> int:
        """The grant document's threshold as the nodes sent it (verified by readers)."""
        try:
            return int(self.signed_grant["grant"]["threshold"])
        except (KeyError, TypeError, ValueError):
            return 0

    @property
    def breakglass(self) -> bool:
        return any(bool(item.get("breakglass")) for _, item in self.items)


def candidates(answers: Mapping[str, Mapping[str, Any]], segment: str) -> list[Candidate]:
    """``segment``'s cfrags grouped by signed grant, the largest group first."""
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    grants: dict[str, dict[str, Any]] = {}
    for node_id, body in sorted(answers.items()):
        for item in body.get("granted", []):
            if not isinstance(item, dict) or item.get("segment") != segment:
                continue
            if item.get("node_id", node_id) != node_id:
                continue  # a node relaying another node's cfrag
            key = _grant_key(item.get("signed_grant"))
            if key is None:
                continue
            key = f"{key}/{item.get('grant_id')}/{item.get('key_version')}"
            grants.setdefault(key, item["signed_grant"])
            groups.setdefault(key, []).append((node_id, item))
    out = [Candidate(segment, k, grants[k], tuple(v)) for k, v in groups.items()]
    return sorted(out, key=lambda c: (-len(c.items), c.grant_key))


# -------------------------------------------------------------------- user-api's count


@dataclass(frozen=True)
class TalliedSegment:
    segment: str
    grant_id: str
    key_version: int
    threshold: int
    breakglass: bool
    nodes: tuple[str, ...]


@dataclass
class Tally:
    granted: dict[str, TalliedSegment] = field(default_factory=dict)
    denied: list[dict[str, Any]] = field(default_factory=list)
    breakglass: dict[str, Any] | None = None


def tally(
    answers: Mapping[str, Mapping[str, Any]],
    segments: Sequence[str],
    threshold: int,
    *,
    key_versions: Mapping[str, int] | None = None,
) -> Tally:
    """Per segment: granted if a usable group exists (see the module doc), else denied
    with the nodes' most common reason. No secret is needed and no cfrag is checked:
    the reader checks them with :func:`open_access`. ``key_versions`` (from the
    manifest) drops cfrags made for another key version than the record's."""
    out = Tally()
    breakglass_reason = ""
    for body in answers.values():
        if isinstance(body.get("breakglass"), dict):
            breakglass_reason = str(body["breakglass"].get("reason", "")) or breakglass_reason
    for segment in segments:
        reasons: dict[str, str] = {}
        for node_id, body in sorted(answers.items()):
            for item in body.get("denied", []):
                if isinstance(item, dict) and item.get("segment") == segment:
                    reasons[node_id] = str(item.get("reason", ""))
        found: TalliedSegment | None = None
        for cand in candidates(answers, segment):
            wanted = key_versions.get(segment) if key_versions is not None else None
            items = [
                (n, i) for n, i in cand.items if wanted is None or i.get("key_version") == wanted
            ]
            need = needed(threshold, cand.declared_threshold)
            if len(items) >= need:
                first = items[0][1]
                found = TalliedSegment(
                    segment=segment,
                    grant_id=str(first.get("grant_id", "")),
                    key_version=int(first.get("key_version", 0)),
                    threshold=need,
                    breakglass=cand.breakglass,
                    nodes=tuple(n for n, _ in items),
                )
                break
            for node_id, _ in cand.items:
                reasons.setdefault(node_id, "granted")
        if found is not None:
            out.granted[segment] = found
            continue
        common = Counter(r for r in reasons.values() if r != "granted").most_common(1)
        out.denied.append(
            {
                "segment": segment,
                "reason": common[0][0] if common else f"fewer than {threshold} nodes granted",
                "nodes": dict(sorted(reasons.items())),
            }
        )
    emergency = sorted(s for s, g in out.granted.items() if g.breakglass)
    if emergency:
        out.breakglass = {"reason": breakglass_reason, "segments": emergency}
    return out


# -------------------------------------------------------------------- the reader's check


class GrantVerifier:
    """Verifies signed grants, each distinct one once: the t..N nodes of one access send
    the same signed grant, and a copy is trusted only if it is equal to the verified one."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[dict[str, Any], GrantDocument]] = {}

    def verify(self, signed: Any) -> GrantDocument:
        if not isinstance(signed, dict):
            raise TypeError("a signed grant is a JSON object")
        key = str(signed.get("signature"))
        seen = self._seen.get(key)
        if seen is not None and seen[0] == signed:
            return seen[1]
        doc = verify_grant(signed)
        self._seen[key] = (signed, doc)
        return doc


@dataclass
class SegmentGrant:
    """A segment opened from verified cfrags (the secret never leaves this process)."""

    segment: str
    secret: SegmentSecret = field(repr=False)
    grant: GrantDocument
    nodes: list[str]
    rejected_nodes: list[str]
    breakglass: bool


@dataclass
class OpenedAccess:
    """An access request, verified: which segments opened, which were denied."""

    request_id: str
    patient_id: str
    record_id: str
    signed_manifest: dict[str, Any]
    manifest: RecordManifest
    opened: dict[str, SegmentGrant]
    denied: dict[str, str]
    answered_nodes: list[str]
    #: nodes whose answers did not verify, or whose cfrags were forged
    suspicious_nodes: dict[str, str]
    breakglass: dict[str, Any] | None
    #: segment -> where its ciphertext can be read (presigned, for a few minutes)
    urls: dict[str, str] = field(default_factory=dict)


def open_access(
    answer: Mapping[str, Any],
    *,
    requester_id: str,
    patient_id: str,
    record_id: str,
    node_keys: Mapping[str, VerifyKey],
    threshold: int,
    receiving: Mapping[str, PreSecretKey],
    expected_author: VerifyKey | None = None,
) -> OpenedAccess:
    """Verify an access answer and open every segment it grants this reader.

    ``receiving`` maps receiving public keys (base64url) to the secret keys the reader
    holds: his own and group keys. Raises :class:`AccessIntegrityError` if the manifest
    does not verify or is another record's; a segment that does not open is listed in
    ``denied`` with the reason, and nodes that lied in ``suspicious_nodes``.
    """
    request_id = str(answer.get("request_id", ""))
    try:
        manifest = verify_manifest(answer["signed_manifest"], expected_author=expected_author)
    except (KeyError, TypeError, SignatureInvalid) as exc:
        raise AccessIntegrityError(f"record {record_id}: manifest does not verify") from exc
    if manifest.patient_id != patient_id or manifest.record_id != record_id:
        raise AccessIntegrityError("user-api served the manifest of another record")
    expected = {
        "request_id": request_id,
        "patient_id": patient_id,
        "record_id": record_id,
        "requester_id": requester_id,
    }
    answers, suspicious = verified_answers(answer.get("node_answers", []), node_keys, expected)
    denied = {str(d["segment"]): str(d.get("reason", "")) for d in answer.get("denied", [])}
    served = answer.get("segments", {})
    wanted = set(served) | {g["segment"] for a in answers.values() for g in a.get("granted", [])}
    opened: dict[str, SegmentGrant] = {}
    grants = GrantVerifier()
    for segment in sorted(wanted - set(denied)):
        try:
            entry = manifest.segment(segment)
        except KeyError:
            continue
        result = _open_segment(
            patient_id, entry, answers, suspicious, grants, threshold=threshold, receiving=receiving
        )
        if isinstance(result, SegmentGrant):
            opened[segment] = result
        else:
            denied[segment] = result
    urls = {
        name: str(seg["url"])
        for name, seg in served.items()
        if name in opened and isinstance(seg, dict) and seg.get("url")
    }
    breakglass = answer.get("breakglass")
    return OpenedAccess(
        request_id=request_id,
        patient_id=patient_id,
        record_id=record_id,
        signed_manifest=dict(answer["signed_manifest"]),
        manifest=manifest,
        opened=opened,
        denied=denied,
        answered_nodes=sorted(answers),
        suspicious_nodes=suspicious,
        breakglass=breakglass if isinstance(breakglass, dict) else None,
        urls=urls,
    )


def _open_segment(
    patient_id: str,
    entry: SegmentEntry,
    answers: Mapping[str, Mapping[str, Any]],
    suspicious: dict[str, str],
    grants: GrantVerifier,
    *,
    threshold: int,
    receiving: Mapping[str, PreSecretKey],
) -> SegmentGrant | str:
    """Open one capsule from the verified answers' cfrags, or say why not."""
    groups = candidates(answers, entry.name)
    if not groups:
        return "no node granted it"
    failure = "not enough valid cfrags"
    for cand in groups:
        try:
            doc = grants.verify(cand.signed_grant)
        except (KeyError, TypeError, ValueError, SignatureInvalid):
            for node_id, _ in cand.items:
                suspicious[node_id] = "unverifiable grant or cfrag"
            continue
        if (
            doc.patient_id != patient_id
            or doc.segment != entry.name
            or doc.key_version != entry.capsule_version
        ):
            for node_id, _ in cand.items:
                suspicious[node_id] = "grant for another patient, segment or key version"
            continue
        items: list[tuple[str, bytes, bool]] = []
        for node_id, item in cand.items:
            try:
                items.append((node_id, b64u_decode(item["cfrag"]), bool(item.get("breakglass"))))
            except (KeyError, TypeError, ValueError):
                suspicious[node_id] = "unverifiable grant or cfrag"
        receiving_sk = receiving.get(doc.receiving_pk)
        if receiving_sk is None:
            failure = "granted to a key this reader does not hold"
            continue
        if len(items) < needed(threshold, doc.threshold):
            continue
        try:
            secret, rejected = open_granted(receiving_sk, entry, doc, [c for _, c, _ in items])
        except CryptoError as exc:
            failure = f"capsule does not open ({type(exc).__name__})"
            for node_id, _, _ in items:
                suspicious.setdefault(node_id, "cfrag did not verify")
            continue
        bad = [items[i][0] for i in rejected]
        for node_id in bad:
            suspicious[node_id] = "forged cfrag"
        for other in groups:
            for node_id, _ in other.items if other is not cand else ():
                suspicious.setdefault(node_id, "sent another grant than the threshold's")
        return SegmentGrant(
            segment=entry.name,
            secret=secret,
            grant=doc,
            nodes=[n for n, _, _ in items if n not in bad],
            rejected_nodes=bad,
            breakglass=any(b for _, _, b in items),
        )
    return failure
