"""Presigned URLs: the AWS documentation's SigV4 example, and what a URL is bound to."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from cloud_store.presign import Presigner, checksum_header

# "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", the
# example: GET /test.txt of examplebucket, 24 h, signed on 2013-05-24 00:00:00 UTC.
AWS_EXAMPLE = Presigner(
    public_url="https://examplebucket.s3.amazonaws.com",
    bucket="",
    access_key="AKIAIOSFODNN7EXAMPLE",
    secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
)
AWS_SIGNATURE = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
WHEN = datetime(2013, 5, 24, tzinfo=UTC)


def test_the_aws_documentation_example() -> None:
    url = AWS_EXAMPLE.presign("GET", "test.txt", 86400, now=WHEN).url
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Signature"] == [AWS_SIGNATURE]
    assert query["X-Amz-Credential"] == ["AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"]
    assert url.startswith("https://examplebucket.s3.amazonaws.com/test.txt?")


STORE = Presigner("http://127.0.0.1:9000", "phr-ciphertext", "ak", "sk")


def signature(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]


def test_each_object_method_and_expiry_has_its_own_signature() -> None:
    base = STORE.presign("GET", "p/r/labs/v1", 300, now=WHEN)
    assert urlsplit(base.url).path == "/phr-ciphertext/p/r/labs/v1"
    others = [
        STORE.presign("GET", "p/r/insurance/v1", 300, now=WHEN),
        STORE.presign("PUT", "p/r/labs/v1", 300, now=WHEN),
        STORE.presign("GET", "p/r/labs/v1", 301, now=WHEN),
    ]
    assert len({signature(u.url) for u in [base, *others]}) == 4
    assert base.expires_at == datetime(2013, 5, 24, 0, 5, tzinfo=UTC)


def test_a_put_signs_the_sha256_s3_must_see() -> None:
    digest = hashlib.sha256(b"ciphertext").hexdigest()
    put = STORE.put("p/r/labs/v1", digest, 300)
    assert put.headers == {"x-amz-checksum-sha256": checksum_header(digest)}
    assert base64.b64decode(checksum_header(digest)).hex() == digest
    assert parse_qs(urlsplit(put.url).query)["X-Amz-SignedHeaders"] == [
        "host;x-amz-checksum-sha256"
    ]


def test_expiry_is_bounded() -> None:
    with pytest.raises(ValueError):
        STORE.get("k", 0)
    with pytest.raises(ValueError):
        STORE.get("k", 8 * 24 * 3600)
