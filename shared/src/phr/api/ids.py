"""The one id pattern of the wire, and the composite ids built from ids.

Every id a client or a service names on the wire (user, patient, organisation, group,
record, upload, grant, request, SRS node) matches :data:`ID_PATTERN`: a letter or digit,
then letters, digits, ``.``, ``_`` or ``-``, at most 64 characters. No ``/`` (composite
ids and object keys join ids with it, so a split is unambiguous), no ``:`` and no
leading ``.`` or ``-`` (an id is never ``..`` inside an object key, never an option of
the CLI). The ids the system issues (``u_…``, ``r_…``, ``g_…``, ``up_…``, ``org_…``,
``grp_…``) all fit.

Composite ids are written only by the functions here, and read back only by their
``parse_*`` twins, so the rule is in one place. The builders only format: their parts
were validated at the edge (the wire models use :data:`Id`); the parsers validate.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, NamedTuple

from pydantic import Field

#: the one pattern of an id on the wire (JSON bodies, paths, queries)
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ID_MAX_LENGTH: Final = 64
#: an id from outside, never one of ours: a caller's request or correlation id in a
#: header, opaque and only logged and echoed (``:`` allowed, for ``urn:uuid:…``-like ids)
OPAQUE_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}$"
#: a segment name (the vocabulary lives in ``phr.fhir.segments``; the wire only bounds it)
SEGMENT_PATTERN: Final = ID_PATTERN
#: lowercase hex SHA-256 (ciphertext digests, manifest digests, keyword tags, trapdoors)
HEX64_PATTERN: Final = r"^[0-9a-f]{64}$"

_ID: Final = re.compile(ID_PATTERN)

Id = Annotated[str, Field(pattern=ID_PATTERN)]
UserId = Id
PatientId = Id
RecordId = Id
UploadId = Id
GrantId = Id
SegmentName = Annotated[str, Field(pattern=SEGMENT_PATTERN)]
Hex64 = Annotated[str, Field(pattern=HEX64_PATTERN)]


def is_id(text: str) -> bool:
    """True if ``text`` is an id by :data:`ID_PATTERN`."""
    return _ID.fullmatch(text) is not None


def _require(*parts: str) -> None:
    for part in parts:
        if not is_id(part):
            raise ValueError(f"not an id: {part!r}")


class SegmentVersion(NamedTuple):
    segment: str
    key_version: int


class KeyGrantRef(NamedTuple):
    grant_id: str
    segment: str
    key_version: int


class BlobRef(NamedTuple):
    patient_id: str
    record_id: str
    segment: str
    key_version: int


def segment_version(segment: str, key_version: int) -> str:
    """``{segment}/v{n}``: one segment at one key version."""
    return f"{segment}/v{key_version}"


def parse_segment_version(text: str) -> SegmentVersion:
    segment, _, version = text.partition("/")
    return SegmentVersion(segment, _version(segment, version, text))


def key_grant_id(grant_id: str, segment: str, key_version: int) -> str:
    """``{grant}/{segment}/v{n}``: the id of one grant's kfrags for one segment and version."""
    return f"{grant_id}/{segment_version(segment, key_version)}"


def parse_key_grant_id(text: str) -> KeyGrantRef:
    grant_id, _, rest = text.partition("/")
    _require(grant_id)
    segment, key_version = parse_segment_version(rest)
    return KeyGrantRef(grant_id, segment, key_version)


def patient_key_id(patient_id: str, segment: str, key_version: int) -> str:
    """``{patient}/{segment}/v{n}``: one of a patient's segment keys at one version."""
    return f"{patient_id}/{segment_version(segment, key_version)}"


def delegation_id(patient_id: str, delegate_user_id: str) -> str:
    """``{patient}/{delegate}``: a patient has at most one delegation per delegate."""
    return f"{patient_id}/{delegate_user_id}"


def blob_key(patient_id: str, record_id: str, segment: str, key_version: int) -> str:
    """The object key of a segment's ciphertext: ``{patient}/{record}/{segment}/v{n}``.

    owner-api writes under it and deletes it, user-api reads under it; cloud-store only
    checks that it is a key.
    """
    return f"{patient_id}/{record_id}/{segment_version(segment, key_version)}"


def parse_blob_key(text: str) -> BlobRef:
    patient_id, _, rest = text.partition("/")
    record_id, _, rest = rest.partition("/")
    _require(patient_id, record_id)
    segment, key_version = parse_segment_version(rest)
    return BlobRef(patient_id, record_id, segment, key_version)


def _version(segment: str, version: str, text: str) -> int:
    if not is_id(segment) or not re.fullmatch(r"v[1-9][0-9]{0,8}", version):
        raise ValueError(f"not a {{segment}}/v{{n}} id: {text!r}")
    return int(version[1:])
