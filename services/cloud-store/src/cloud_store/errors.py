"""cloud-store's errors (rendered as problem+json by phr.service.problems).

DomainError
├── BlobNotFound (404)        no object under that key
├── BlobTooLarge (413)        announced size over the limit; nothing read
├── TagsTooMany (413)         more tags on a segment than the index takes
├── BlobIntegrity (422)       upload's size/SHA-256 differ from the announced ones
├── BlobCorrupted (502)       stored object no longer matches its SHA-256
└── StorageUnavailable (503)  S3 does not answer
"""

from __future__ import annotations

from phr.service.problems import DomainError


class BlobNotFound(DomainError):
    status, title, slug = 404, "Blob not found", "blob-not-found"


class BlobTooLarge(DomainError):
    status, title, slug = 413, "Blob too large", "blob-too-large"


class TagsTooMany(DomainError):
    status, title, slug = 413, "Too many tags", "tags-too-many"


class BlobIntegrity(DomainError):
    status, title, slug = 422, "Upload does not match its announced digest", "blob-integrity"


class BlobCorrupted(DomainError):
    status, title, slug = 502, "Stored ciphertext is corrupted", "blob-corrupted"


class StorageUnavailable(DomainError):
    status, title, slug = 503, "Object storage unavailable", "storage-unavailable"
