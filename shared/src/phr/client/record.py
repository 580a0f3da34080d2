"""Encrypt a FHIR Bundle into a signed, segmented record (patient or contributor)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from phr.crypto.keys import PatientMasterKey
from phr.crypto.manifest import RecordManifest, SegmentEntry, SignedRecordManifest, sign_manifest
from phr.crypto.pre import KeyCapsule, PrePublicKey, encapsulate
from phr.crypto.search import keyword_tags
from phr.crypto.segment_secret import RandomBytes, SegmentSecret
from phr.crypto.signing import SigningKey
from phr.crypto.stream import DEFAULT_CHUNK_SIZE, ByteSource, SegmentContext, SegmentEncryptor
from phr.fhir.keywords import payload_keywords
from phr.fhir.split import payload_to_bytes, read_json, split_bundle


class RecipientKeys(Protocol):
    """Which public key and version each segment is encrypted to."""

    def segment_key(self, segment: str) -> tuple[PrePublicKey, int]: ...

    def search_key(self, segment: str) -> bytes | None: ...


@dataclass(frozen=True, repr=False)
class OwnerKeys:
    """The patient encrypting his own record: keys derived from the master secret."""

    master: PatientMasterKey
    versions: Mapping[str, int] = field(default_factory=dict)

    def segment_key(self, segment: str) -> tuple[PrePublicKey, int]:
        version = self.versions.get(segment, 1)
        return self.master.segment_public_key(segment, version), version

    def search_key(self, segment: str) -> bytes | None:
        return self.master.search_key(segment, self.versions.get(segment, 1))


@dataclass(frozen=True)
class ContributorKeys:
    """A contributor (hospital) encrypting to a patient's published segment keys.

    ``public_keys``: segment -> (public key, version), as the patient published them.
    The contributor does not know the patient's search keys, so each segment gets a
    fresh one; it reaches grantees in the capsule like the data key.
    """

    public_keys: Mapping[str, tuple[PrePublicKey, int]]

    def segment_key(self, segment: str) -> tuple[PrePublicKey, int]:
        try:
            return self.public_keys[segment]
        except KeyError:
            raise KeyError(f"the patient published no key for segment {segment!r}") from None

    def search_key(self, segment: str) -> bytes | None:
        return None


class PendingSegment:
    """A segment being encrypted: iterate ``chunks``, then call :meth:`entry`."""

    def __init__(
        self,
        context: SegmentContext,
        capsule: KeyCapsule,
        encryptor: SegmentEncryptor,
        tags: list[str],
        resource_count: int,
    ) -> None:
        self.context = context
        self.capsule = capsule
        self.tags = tags
        self.resource_count = resource_count
        self._enc = encryptor

    @property
    def chunks(self) -> Iterator[bytes]:
        return iter(self._enc)

    def entry(self) -> SegmentEntry:
        """The manifest entry; valid once every chunk has been consumed."""
        return SegmentEntry(
            name=self.context.segment,
            key_version=self.context.key_version,
            capsule_version=self.context.key_version,
            chunk_size=int.from_bytes(self._enc.header[8:12], "big"),
            plaintext_size=self._enc.plaintext_size,
            size=self._enc.size,
            sha256=self._enc.sha256.hex(),
            capsule=self.capsule.b64(),
            tag_count=len(self.tags),
            resource_count=self.resource_count,
        )


def encrypt_segment(
    source: ByteSource,
    *,
    context: SegmentContext,
    segment_pk: PrePublicKey,
    search_key: bytes | None = None,
    keywords: Iterable[str] = (),
    resource_count: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    rand: RandomBytes = os.urandom,
) -> PendingSegment:
    """Encrypt one segment of any size (streamed) under a fresh data key."""
    secret = SegmentSecret.generate(rand, search_key=search_key)
    capsule = encapsulate(segment_pk, secret)
    tags = keyword_tags(secret.search_key, keywords)
    enc = SegmentEncryptor(secret.data_key, context, source, chunk_size=chunk_size, rand=rand)
    return PendingSegment(context, capsule, enc, tags, resource_count)


@dataclass(frozen=True)
class EncryptedSegment:
    entry: SegmentEntry
    ciphertext: bytes
    tags: list[str]


@dataclass(frozen=True)
class EncryptedRecord:
    signed_manifest: SignedRecordManifest
    segments: dict[str, EncryptedSegment]

    @property
    def manifest(self) -> RecordManifest:
        return self.signed_manifest.manifest


def encrypt_record(
    bundle: dict[str, Any] | str | bytes,
    *,
    patient_id: str,
    record_id: str,
    keys: RecipientKeys,
    author: SigningKey,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    created_at: datetime | None = None,
    validate: bool = True,
) -> EncryptedRecord:
    """Validate, split, encrypt and sign a Bundle; one segment per non-empty category."""
    doc = read_json(bundle) if isinstance(bundle, str | bytes) else bundle
    segments: dict[str, EncryptedSegment] = {}
    for seg, payload in split_bundle(doc, validate=validate).items():
        pk, version = keys.segment_key(seg.value)
        pending = encrypt_segment(
            [payload_to_bytes(payload)],
            context=SegmentContext(patient_id, record_id, seg.value, version),
            segment_pk=pk,
            search_key=keys.search_key(seg.value),
            keywords=payload_keywords(payload),
            resource_count=len(payload["entries"]),
            chunk_size=chunk_size,
        )
        ciphertext = b"".join(pending.chunks)
        segments[seg.value] = EncryptedSegment(pending.entry(), ciphertext, pending.tags)
    manifest = RecordManifest(
        patient_id=patient_id,
        record_id=record_id,
        created_at=(created_at or datetime.now(UTC)).isoformat(),
        author=author.verify_key.b64(),
        segments=[s.entry for s in segments.values()],
    )
    return EncryptedRecord(sign_manifest(manifest, author), segments)
