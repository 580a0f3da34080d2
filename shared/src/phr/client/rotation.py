"""Key rotation: re-wrap older segments' capsules under a newer segment key version.

Only capsules change (the data key inside stays the same); ciphertext is untouched
and keeps the ``key_version`` bound in its AAD. After re-wrapping, kfrags made for
the old version open nothing, since no capsule is wrapped to the old key any more.
"""

from __future__ import annotations

from phr.crypto.keys import PatientMasterKey
from phr.crypto.manifest import RecordManifest, SegmentEntry, SignedRecordManifest, sign_manifest
from phr.crypto.pre import KeyCapsule, encapsulate, open_capsule
from phr.crypto.signing import SigningKey


def rewrap_capsule(
    master: PatientMasterKey,
    segment: str,
    capsule: KeyCapsule,
    *,
    from_version: int,
    to_version: int,
) -> KeyCapsule:
    secret = open_capsule(master.segment_secret_key(segment, from_version), capsule)
    return encapsulate(master.segment_public_key(segment, to_version), secret)


def rotate_segment(
    signed: SignedRecordManifest,
    master: PatientMasterKey,
    author: SigningKey,
    *,
    segment: str,
    to_version: int,
) -> SignedRecordManifest:
    """A re-signed manifest whose ``segment`` capsule is wrapped to ``to_version``."""
    manifest = signed.manifest
    entries: list[SegmentEntry] = []
    for entry in manifest.segments:
        if entry.name == segment and entry.capsule_version != to_version:
            capsule = rewrap_capsule(
                master,
                segment,
                KeyCapsule.from_b64(entry.capsule),
                from_version=entry.capsule_version,
                to_version=to_version,
            )
            entry = entry.model_copy(
                update={"capsule": capsule.b64(), "capsule_version": to_version}
            )
        entries.append(entry)
    updated = RecordManifest.model_validate(
        {
            **manifest.model_dump(),
            "segments": [e.model_dump() for e in entries],
            "author": author.verify_key.b64(),
        }
    )
    return sign_manifest(updated, author)
