"""Presigned S3 URLs (AWS Signature Version 4, query form), scoped to one object each.

A presigned URL lets a client read or write exactly one object for a few minutes
without holding S3 credentials; cloud-store makes them only when owner-api or
user-api ask, for an upload or an access they have authorised. The signature covers
the method, the bucket and key, the expiry and the signed headers, so a URL for one
segment opens no other, and S3 refuses it once ``X-Amz-Expires`` has passed.

A PUT URL also signs ``x-amz-checksum-sha256`` (base64 of the SHA-256 the signed
manifest announces): the client must send that header, S3 itself checks the body
against it (``BadDigest`` otherwise) and keeps the checksum with the object, so
integrity is checked without cloud-store re-hashing any byte. minio's own presigner
signs only ``host``, hence this module (the signing steps are those of the AWS
documentation, "Authenticating Requests: Using Query Parameters"; the test suite
checks them against the real S3 server).

``public_url`` is the S3 address clients see (it may differ from the one cloud-store
uses, e.g. behind a proxy or in docker-compose): the host signed is that one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
#: longest validity cloud-store grants to one URL
MAX_EXPIRES_S = 3600
#: longest S3 accepts (SigV4: 7 days)
S3_MAX_EXPIRES_S = 7 * 24 * 3600


def _uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """AWS URI encoding: every byte but A-Z a-z 0-9 - _ . ~ (and '/' in paths)."""
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def checksum_header(sha256_hex: str) -> str:
    """The ``x-amz-checksum-sha256`` value for a hex SHA-256: base64 of its 32 bytes."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


@dataclass(frozen=True)
class PresignedUrl:
    method: str
    url: str
    #: headers the client must send with the request (they are signed)
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class Presigner:
    """Signs URLs for one bucket with one key pair, for the address clients see."""

    public_url: str  # e.g. "http://127.0.0.1:9000"
    bucket: str  # "" when the bucket is in the host name (virtual-hosted style)
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def presign(
        self,
        method: str,
        key: str,
        expires_s: int,
        *,
        headers: dict[str, str] | None = None,
        now: datetime | None = None,
    ) -> PresignedUrl:
        if not 1 <= expires_s <= S3_MAX_EXPIRES_S:
            raise ValueError(f"expiry must be 1..{S3_MAX_EXPIRES_S} s")
        now = (now or datetime.now(UTC)).astimezone(UTC)
        base = urlsplit(self.public_url)
        host = base.netloc
        # path style (/bucket/key); an empty bucket means it is in the host name
        path = "/" + "/".join(p for p in (base.path.strip("/"), self.bucket, key) if p)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = now.strftime("%Y%m%d")
        scope = f"{day}/{self.region}/s3/aws4_request"
        signed = {"host": host, **{k.lower(): v.strip() for k, v in (headers or {}).items()}}
        signed_names = ";".join(sorted(signed))
        query = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{self.access_key}/{scope}",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(expires_s),
            "X-Amz-SignedHeaders": signed_names,
        }
        canonical_query = "&".join(
            f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query.items())
        )
        canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
        canonical_request = "\n".join(
            [
                method,
                _uri_encode(path, keep_slash=True),
                canonical_query,
                canonical_headers,
                signed_names,
                "UNSIGNED-PAYLOAD",
            ]
        )
        string_to_sign = "\n".join(
            [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        signing_key = f"AWS4{self.secret_key}".encode()
        for part in (day, self.region, "s3", "aws4_request"):
            signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        url = (
            f"{base.scheme}://{host}{_uri_encode(path, keep_slash=True)}"
            f"?{canonical_query}&X-Amz-Signature={signature}"
        )
        expires_at = datetime.fromtimestamp(int(now.timestamp()) + expires_s, UTC)
        return PresignedUrl(method, url, dict(headers or {}), expires_at)

    def get(self, key: str, expires_s: int) -> PresignedUrl:
        return self.presign("GET", key, expires_s)

    def put(self, key: str, sha256_hex: str, expires_s: int) -> PresignedUrl:
        """A PUT that S3 accepts only with exactly the bytes of this SHA-256."""
        return self.presign(
            "PUT", key, expires_s, headers={"x-amz-checksum-sha256": checksum_header(sha256_hex)}
        )
