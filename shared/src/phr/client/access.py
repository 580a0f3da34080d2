"""Open segment secrets (as owner or as grantee) and decrypt segments and records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from phr.crypto.errors import FormatError
from phr.crypto.grants import GrantDocument
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.manifest import RecordManifest, SegmentEntry, SignedRecordManifest, verify_manifest
from phr.crypto.pre import (
    KeyCapsule,
    PreSecretKey,
    open_capsule,
    open_reencrypted,
    open_reencrypted_skipping,
)
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import VerifyKey
from phr.crypto.stream import ByteSource, SegmentContext, SegmentDecryptor
from phr.fhir.split import merge_segments, payload_from_bytes


def owner_secret(master: PatientMasterKey, entry: SegmentEntry) -> SegmentSecret:
    """The patient opens a segment's capsule with his derived segment key."""
    sk = master.segment_secret_key(entry.name, entry.capsule_version)
    return open_capsule(sk, KeyCapsule.from_b64(entry.capsule))


def grantee_secret(
    user: UserKeys, entry: SegmentEntry, grant: GrantDocument, cfrags: Sequence[bytes]
) -> SegmentSecret:
    """A grantee verifies the SRS nodes' cfrags and opens the capsule with ``threshold`` of them.

    Raises ``CapsuleFragInvalid`` for a forged or foreign cfrag, ``NotEnoughFragments``
    below the threshold, ``CapsuleOpenError`` if the grant is for another segment key.
    """
    if grant.segment != entry.name:
        raise FormatError(f"grant is for {grant.segment!r}, segment is {entry.name!r}")
    verifying, delegating, _ = grant.keys()
    return open_reencrypted(
        user.pre,
        KeyCapsule.from_b64(entry.capsule),
        cfrags,
        threshold=grant.threshold,
        verifying_pk=verifying,
        delegating_pk=delegating,
    )


def open_granted(
    receiving_sk: PreSecretKey, entry: SegmentEntry, grant: GrantDocument, cfrags: Sequence[bytes]
) -> tuple[SegmentSecret, list[int]]:
    """Like :func:`grantee_secret`, tolerating lying nodes: cfrags that do not verify are
    skipped; the capsule opens with ``threshold`` valid ones.

    ``receiving_sk`` is the key the grant names (``grant.receiving_pk``): the user's own,
    or a group key he holds. Returns the secret and the indices of rejected cfrags;
    raises ``NotEnoughFragments`` below the threshold of valid ones.
    """
    if grant.segment != entry.name:
        raise FormatError(f"grant is for {grant.segment!r}, segment is {entry.name!r}")
    if receiving_sk.public_key().b64() != grant.receiving_pk:
        raise FormatError("the grant names another receiving key")
    verifying, delegating, _ = grant.keys()
    return open_reencrypted_skipping(
        receiving_sk,
        KeyCapsule.from_b64(entry.capsule),
        cfrags,
        threshold=grant.threshold,
        verifying_pk=verifying,
        delegating_pk=delegating,
    )


def decrypt_segment(
    secret: SegmentSecret,
    manifest: RecordManifest,
    entry: SegmentEntry,
    ciphertext: ByteSource,
) -> bytes:
    """Decrypt and fully authenticate one segment; checks its SHA-256 against the manifest."""
    context = SegmentContext(manifest.patient_id, manifest.record_id, entry.name, entry.key_version)
    dec = SegmentDecryptor(
        secret.data_key, context, ciphertext, expected_sha256=bytes.fromhex(entry.sha256)
    )
    return b"".join(dec)


def decrypt_record(
    signed_manifest: SignedRecordManifest | dict[str, Any],
    *,
    secrets: Mapping[str, SegmentSecret],
    ciphertexts: Mapping[str, ByteSource],
    expected_author: VerifyKey | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """Verify the manifest, decrypt the segments given, and merge them into one Bundle."""
    manifest = verify_manifest(signed_manifest, expected_author=expected_author)
    payloads = [
        open_segment_payload(manifest, name, secret, ciphertexts[name])
        for name, secret in secrets.items()
    ]
    return merge_segments(payloads, bundle_id=manifest.record_id, validate=validate)


def open_segment_payload(
    manifest: RecordManifest, name: str, secret: SegmentSecret, ciphertext: ByteSource
) -> dict[str, Any]:
    """One segment of a *verified* manifest: decrypted (SHA-256 and AES-GCM checked) and
    parsed, ready for :func:`phr.fhir.split.merge_segments`."""
    return payload_from_bytes(decrypt_segment(secret, manifest, manifest.segment(name), ciphertext))
