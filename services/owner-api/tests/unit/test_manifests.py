"""An upload's manifest is refused, with a useful detail, before anything is stored."""

from __future__ import annotations

from typing import Any

import pytest

from owner_api.errors import ManifestInvalid, UploadMalformed, UploadTooLarge
from owner_api.records.manifests import check_upload
from owner_api.settings import Settings
from phr.api.owner import UploadIn
from phr.client import OwnerKeys, encrypt_record
from phr.crypto.keys import PatientMasterKey
from phr.crypto.manifest import sign_manifest
from phr.crypto.signing import SigningKey
from phr.identity.tokens import Principal
from phr.service.settings import MongoSettings

BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"text": "Ann"}]}},
        {
            "resource": {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "code": {"text": "glucose"},
            }
        },
    ],
}


@pytest.fixture(scope="module")
def author() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def record(author: SigningKey) -> Any:
    return encrypt_record(
        BUNDLE,
        patient_id="u_p",
        record_id="r1",
        keys=OwnerKeys(PatientMasterKey.generate()),
        author=author,
        validate=False,
    )


def settings(**kw: Any) -> Settings:
    return Settings(mongo=MongoSettings(database="unused"), **kw)


def caller(key: SigningKey, sub: str = "u_p") -> Principal:
    fp = key.verify_key.fingerprint()
    return Principal(sub=sub, role="patient", issuer="kgc", jti="j", expires_at=0, key_fp=fp)


def upload(record: Any, signed: Any = None, tags: Any = None) -> UploadIn:
    return UploadIn(
        upload_id="upload-0001",
        signed_manifest=(signed or record.signed_manifest).model_dump(mode="json"),
        tags=tags if tags is not None else {n: s.tags for n, s in record.segments.items()},
    )


def test_a_good_manifest_passes(record: Any, author: SigningKey) -> None:
    manifest = check_upload(caller(author), "u_p", upload(record), settings())
    assert {s.name for s in manifest.segments} == {"demographics", "labs"}


def test_another_signer_is_refused(record: Any) -> None:
    with pytest.raises(ManifestInvalid, match="enrolled key"):
        check_upload(caller(SigningKey.generate()), "u_p", upload(record), settings())


def test_another_patient_is_refused(record: Any, author: SigningKey) -> None:
    with pytest.raises(ManifestInvalid, match="another patient"):
        check_upload(caller(author, "u_q"), "u_q", upload(record), settings())


def test_a_tampered_manifest_is_refused(record: Any, author: SigningKey) -> None:
    raw = record.signed_manifest.model_dump(mode="json")
    raw["manifest"]["segments"][0]["size"] += 1
    body = UploadIn(upload_id="upload-0001", signed_manifest=raw, tags={})
    with pytest.raises(ManifestInvalid, match="rejected"):
        check_upload(caller(author), "u_p", body, settings())


@pytest.mark.parametrize(
    ("limits", "word"),
    [({"max_segment_bytes": 100}, "per segment"), ({"max_record_bytes": 100}, "record of")],
)
def test_limits(record: Any, author: SigningKey, limits: dict[str, int], word: str) -> None:
    with pytest.raises(UploadTooLarge, match=word):
        check_upload(caller(author), "u_p", upload(record), settings(**limits))


def test_too_many_segments(record: Any, author: SigningKey) -> None:
    with pytest.raises(UploadTooLarge, match="at most 1"):
        check_upload(caller(author), "u_p", upload(record), settings(max_segments=1))


def test_tags_must_match_the_signed_count(record: Any, author: SigningKey) -> None:
    with pytest.raises(UploadMalformed, match="tags sent"):
        check_upload(caller(author), "u_p", upload(record, tags={}), settings())


def test_unknown_segment_names_are_refused(record: Any, author: SigningKey) -> None:
    renamed = [s.model_copy(update={"name": "secrets"}) for s in record.manifest.segments[:1]]
    signed = sign_manifest(record.manifest.model_copy(update={"segments": renamed}), author)
    with pytest.raises(ManifestInvalid, match="unknown segments"):
        check_upload(caller(author), "u_p", upload(record, signed, tags={}), settings())
