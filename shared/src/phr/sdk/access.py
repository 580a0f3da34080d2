"""``AccessClient``: a data user searches and reads the segments patients granted him.

Everything secret stays here: user-api and the SRS nodes forward cfrags and ciphertext
but hold no key, and this client trusts neither. For each record it reads it checks

- the manifest's signature (and its author, if ``expected_author`` is given);
- every SRS node's answer: signed by that node's key (from the KGC's parameters or the
  registry) and answering this request for this user; others are ignored;
- every cfrag against the capsule and the patient-signed grant: a forged or foreign
  cfrag is skipped and the capsule opens with ``threshold`` honest ones;
- the ciphertext's SHA-256 against the manifest, then AES-GCM per chunk;

and merges the granted segments into one FHIR Bundle::

    async with AccessClient(user_api_url, token, keys=my_keys, node_keys=keys,
                            threshold=2) as reader:
        bundle = await reader.fetch_record(patient_id, record_id)           # granted only
        matches = await reader.search(["loinc:4548-4", "glucose"])         # all patients

Search keys. Keyword tags are HMACs under a per-segment search key that travels inside
the segment's capsule (data key || search key, see ``phr.crypto.segment_secret``):
the patient's own uploads use one search key per (patient, segment, key version),
derived from his master secret; a contributor's upload has a fresh one per record
segment. A reader therefore has none before he first opens a capsule. ``search``
bootstraps them (:meth:`AccessClient.search_keys`):

1. ``GET /v1/shared`` lists the patients who granted him segments and their records
   holding those segments (user-api scopes it from its grant index);
2. per (patient, segment, key version) of the patient's own uploads, one record is
   enough, plus every contributor-written record segment;
3. ``POST /v1/access`` for those records (audited like any access; no ciphertext is
   downloaded) and opening the capsules with the cfrags yields the search keys,
   cached in this client;
4. per distinct search key, the query terms become trapdoors
   (``phr.client.search.trapdoors_for``) and one ``POST /v1/search`` asks for
   segments holding them all; user-api returns only granted segments.

Pass ``search_keys=`` (from an earlier :meth:`search_keys`) to skip the bootstrap.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import httpx

from phr.client.access import open_segment_payload
from phr.client.search import trapdoors_for
from phr.client.verifier import AccessIntegrityError, OpenedAccess, open_access
from phr.crypto.errors import CryptoError
from phr.crypto.keys import UserKeys
from phr.crypto.manifest import SegmentEntry
from phr.crypto.pre import PreSecretKey
from phr.crypto.signing import VerifyKey
from phr.fhir.split import merge_segments
from phr.identity.params import SystemParams
from phr.identity.tokens import Audience
from phr.sdk.base import BearerClient, TokenSource, gather_all
from phr.sdk.errors import ApiError, problem_body

T = TypeVar("T")
#: (grantee id, receiving public key) of a group grant -> the group secret, if a member
#: (e.g. ``phr.sdk.groups.member_group_key``); called once per key not held yet
GroupKeyResolver = Callable[[str, str], Awaitable[PreSecretKey | None]]
#: cloud-store accepts at most this many trapdoors in one query
MAX_TRAPDOORS = 32


# -------------------------------------------------------------------- errors


class AccessError(ApiError):
    """user-api refused or failed a call; ``problem`` is its RFC 9457 body."""


class AccessDenied(Exception):
    """Segments asked for were not granted (``denied``: segment -> reason)."""

    def __init__(self, record_id: str, denied: Mapping[str, str]) -> None:
        self.record_id = record_id
        self.denied = dict(denied)
        what = ", ".join(f"{s} ({r})" for s, r in sorted(self.denied.items()))
        super().__init__(f"record {record_id}: access denied to {what}")


# -------------------------------------------------------------------- results


class SearchKey:
    """One segment search key and what it covers. Its repr never shows the key."""

    __slots__ = ("key", "patient_id", "segments")

    def __init__(self, patient_id: str, key: bytes, segments: Iterable[str] = ()) -> None:
        self.patient_id = patient_id
        self.key = bytes(key)
        self.segments: set[str] = set(segments)

    def __repr__(self) -> str:
        return f"SearchKey(patient_id={self.patient_id!r}, segments={sorted(self.segments)})"


@dataclass(frozen=True, order=True)
class Match:
    patient_id: str
    record_id: str
    segment: str


@dataclass
class OpenedRecord:
    bundle: dict[str, Any]
    access: OpenedAccess


# -------------------------------------------------------------------- the client


class AccessClient(BearerClient):
    """A user-api client for one data user (his token and secret keys)."""

    #: user-api forwards the caller's token to the SRS nodes it asks
    audience: ClassVar[Audience] = ("user-api", "srs")

    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        *,
        keys: UserKeys,
        node_keys: Mapping[str, VerifyKey],
        threshold: int,
        user_id: str | None = None,
        group_keys: Sequence[PreSecretKey] = (),
        group_key_resolver: GroupKeyResolver | None = None,
        http: httpx.AsyncClient | None = None,
        concurrency: int = 8,
        timeout_s: float = 60.0,
    ) -> None:
        super().__init__(token, http=http, timeout_s=timeout_s)
        self._base = base_url.rstrip("/")
        self._limit = asyncio.Semaphore(concurrency)
        self.keys = keys
        self.node_keys = dict(node_keys)
        self.threshold = threshold
        self.user_id = user_id
        #: receiving keys by public key: the user's own and group keys he holds
        self._receiving = {k.public_key().b64(): k for k in (keys.pre, *group_keys)}
        self._resolve_group_key = group_key_resolver
        #: (patient, record, segment) -> search key, from capsules opened so far
        self._search_keys: dict[tuple[str, str, str], bytes] = {}

    @classmethod
    def from_params(
        cls, base_url: str, token: TokenSource, *, keys: UserKeys, params: SystemParams, **kw: Any
    ) -> AccessClient:
        """Node keys and threshold from the KGC's verified system parameters."""
        node_keys = {n.id: VerifyKey.from_b64(n.ed25519_public) for n in params.srs.nodes}
        return cls(
            base_url, token, keys=keys, node_keys=node_keys, threshold=params.srs.threshold, **kw
        )

    # ---------------------------------------------------------------- plumbing

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        resp = await self._http.request(
            method, f"{self._base}{path}", headers=await self._headers(), **kw
        )
        if resp.status_code != 200:
            raise _error(resp)
        return resp

    async def whoami(self) -> str:
        """This user's id, from his token (cached)."""
        if self.user_id is None:
            resp = await self._request("GET", "/v1/whoami")
            self.user_id = str(resp.json()["sub"])
        return self.user_id

    # ---------------------------------------------------------------- access

    async def request_access(
        self,
        patient_id: str,
        record_id: str,
        segments: Iterable[str] | None = None,
        *,
        breakglass_reason: str | None = None,
        expected_author: VerifyKey | None = None,
    ) -> OpenedAccess:
        """Ask for cfrags (no ciphertext yet) and open every granted segment's capsule;
        :class:`AccessDenied` if no segment was granted (user-api then sends no manifest)."""
        answer = await self._post_access(patient_id, record_id, segments, breakglass_reason)
        return await self._open(answer, patient_id, record_id, expected_author)

    async def _post_access(
        self,
        patient_id: str,
        record_id: str,
        segments: Iterable[str] | None,
        breakglass_reason: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"patient_id": patient_id, "record_id": record_id}
        if segments is not None:
            body["segments"] = list(segments)
        if breakglass_reason is not None:
            body |= {"breakglass": True, "breakglass_reason": breakglass_reason}
        resp = await self._request("POST", "/v1/access", json=body)
        answer: dict[str, Any] = resp.json()
        return answer

    async def _open(
        self,
        answer: Mapping[str, Any],
        patient_id: str,
        record_id: str,
        expected_author: VerifyKey | None,
    ) -> OpenedAccess:
        me = await self.whoami()
        await self._fetch_group_keys(answer)
        opened = await asyncio.to_thread(
            self._open_access, answer, me, patient_id, record_id, expected_author
        )
        for name, seg in opened.opened.items():
            self._search_keys[(patient_id, record_id, name)] = seg.secret.search_key
        return opened

    async def _fetch_group_keys(self, answer: Mapping[str, Any]) -> None:
        """Ask the resolver for receiving keys named by grants that this reader lacks
        (the grants are verified later, when the cfrags are opened)."""
        if self._resolve_group_key is None:
            return
        wanted: dict[str, str] = {}
        for body in answer.get("node_answers", []):
            for item in body.get("granted", []) if isinstance(body, dict) else []:
                try:
                    grant = item["signed_grant"]["grant"]
                    pk, grantee = str(grant["receiving_pk"]), str(grant["grantee_id"])
                except (KeyError, TypeError):
                    continue
                if pk not in self._receiving:
                    wanted[pk] = grantee
        for pk, grantee in wanted.items():
            secret = await self._resolve_group_key(grantee, pk)
            if secret is not None and secret.public_key().b64() == pk:
                self._receiving[pk] = secret

    def _open_access(
        self,
        answer: Mapping[str, Any],
        me: str,
        patient_id: str,
        record_id: str,
        expected_author: VerifyKey | None,
    ) -> OpenedAccess:
        if answer.get("signed_manifest") is None:
            # user-api hands the manifest only to a caller some segment was granted to
            denied = {str(d["segment"]): str(d.get("reason", "")) for d in answer.get("denied", [])}
            raise AccessDenied(record_id, denied or {"*": "nothing granted"})
        return open_access(
            answer,
            requester_id=me,
            patient_id=patient_id,
            record_id=record_id,
            node_keys=self.node_keys,
            threshold=self.threshold,
            receiving=self._receiving,
            expected_author=expected_author,
        )

    async def download(
        self,
        url: str,
        entry: SegmentEntry | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> bytes:
        """A granted segment's ciphertext, straight from S3 through the presigned URL
        user-api issued; its SHA-256 is checked against ``entry`` if given
        (:meth:`open_record` checks it while decrypting, against the verified manifest).
        ``on_bytes(n)`` is told each chunk's size as it arrives (a progress bar)."""
        async with self._limit, self._http.stream("GET", url) as resp:
            if resp.status_code != 200:
                await resp.aread()
                raise AccessError(resp.status_code, {"detail": f"S3 answered {resp.status_code}"})
            parts = []
            async for chunk in resp.aiter_bytes():
                parts.append(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        data = b"".join(parts)
        if entry is not None and hashlib.sha256(data).hexdigest() != entry.sha256:
            raise AccessIntegrityError(f"segment {entry.name}: ciphertext SHA-256 does not match")
        return data

    async def open_record(
        self,
        patient_id: str,
        record_id: str,
        segments: Iterable[str] | None = None,
        *,
        breakglass_reason: str | None = None,
        allow_partial: bool = False,
        expected_author: VerifyKey | None = None,
        validate: bool = True,
        on_download: Callable[[int], Callable[[int], None]] | None = None,
    ) -> OpenedRecord:
        """Access, verify, download and decrypt; the Bundle holds only granted segments.

        With ``segments`` named, every one must be granted (else :class:`AccessDenied`)
        unless ``allow_partial``; with ``segments=None`` the record's granted segments
        are read and :class:`AccessDenied` is raised only if none is. ``on_download``,
        if given, is told the ciphertext bytes to download and returns the function
        told each chunk's size (a progress bar).
        """
        asked = list(segments) if segments is not None else None
        await self.whoami()
        answer = await self._post_access(patient_id, record_id, asked, breakglass_reason)
        # Fetch the ciphertext user-api says is granted while the capsules open: both are
        # checked later (cfrags here, the SHA-256 against the verified manifest when
        # decrypting), so starting early trusts nothing.
        served = {
            name: str(seg["url"])
            for name, seg in (answer.get("segments") or {}).items()
            if isinstance(seg, dict) and seg.get("url")
        }
        advance = on_download(_announced_size(answer, served)) if on_download else None
        downloads = {
            name: asyncio.ensure_future(self.download(url, on_bytes=advance))
            for name, url in served.items()
        }
        try:
            access = await self._open(answer, patient_id, record_id, expected_author)
            if not access.opened or (asked is not None and access.denied and not allow_partial):
                raise AccessDenied(record_id, access.denied or {"*": "nothing granted"})
            missing = set(access.opened) - set(downloads)
            if missing:
                raise AccessIntegrityError(f"user-api gave no URL for {sorted(missing)}")

            async def opened(name: str) -> dict[str, Any]:
                # Each segment is decrypted as soon as it is here, while others download;
                # the manifest was verified when the capsules opened.
                data = await downloads[name]
                secret = access.opened[name].secret
                try:
                    return await asyncio.to_thread(
                        open_segment_payload, access.manifest, name, secret, [data]
                    )
                except CryptoError as exc:
                    raise AccessIntegrityError(f"record {record_id}: {exc}") from exc

            payloads = await gather_all(*(opened(n) for n in sorted(access.opened)))
        finally:
            for task in downloads.values():
                task.cancel()
            await asyncio.gather(*downloads.values(), return_exceptions=True)
        bundle = await asyncio.to_thread(
            merge_segments, payloads, bundle_id=access.manifest.record_id, validate=validate
        )
        return OpenedRecord(bundle, access)

    async def fetch_record(
        self,
        patient_id: str,
        record_id: str,
        segments: Iterable[str] | None = None,
        breakglass_reason: str | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """The record as a FHIR Bundle holding only the granted segments (see open_record)."""
        opened = await self.open_record(
            patient_id, record_id, segments, breakglass_reason=breakglass_reason, **kw
        )
        return opened.bundle

    # ---------------------------------------------------------------- search

    async def shared(
        self, patient_id: str | None = None, *, emergency: bool = False
    ) -> list[dict[str, Any]]:
        """Patients who granted this user segments, with their records holding them.

        ``emergency`` (with ``patient_id``) also lists what break-glass may open.
        """
        params: dict[str, Any] = {"patient_id": patient_id} if patient_id else {}
        if emergency:
            params["emergency"] = "true"
        resp = await self._request("GET", "/v1/shared", params=params)
        patients: list[dict[str, Any]] = resp.json()["patients"]
        return patients

    async def shared_detail(self, patient_id: str) -> dict[str, Any]:
        """One patient's grants to this user (any status), the records he may read, and
        the segments of those withheld from him with why (``not-granted``, ``revoked``,
        ``expired``, ``not-yet-valid``). Empty if the patient never granted him anything."""
        resp = await self._request("GET", f"/v1/shared/{patient_id}")
        detail: dict[str, Any] = resp.json()
        return detail

    async def search_keys(self, patient_id: str | None = None) -> list[SearchKey]:
        """The search keys of segments granted to this user (bootstrap, see module doc)."""
        to_open: dict[tuple[str, str], set[str]] = {}  # (patient, record) -> segments
        for patient in await self.shared(patient_id):
            pid = patient["patient_id"]
            covered: set[tuple[str, int]] = set()
            for record in patient["records"]:
                own = record["uploaded_by"] == pid
                for segment, version in record["segments"].items():
                    if (pid, record["record_id"], segment) in self._search_keys:
                        if own:
                            covered.add((segment, version))
                        continue
                    if own and (segment, version) in covered:
                        continue  # the patient's key for this segment and version is known
                    if own:
                        covered.add((segment, version))
                    to_open.setdefault((pid, record["record_id"]), set()).add(segment)

        async def open_one(pid: str, rid: str, segments: set[str]) -> None:
            async with self._limit:
                try:
                    await self.request_access(pid, rid, sorted(segments))
                except AccessDenied:
                    return  # revoked or expired meanwhile: no key to learn
                except AccessError as exc:
                    if exc.status in (404, 410):
                        return  # deleted meanwhile
                    raise

        await gather_all(*(open_one(p, r, s) for (p, r), s in to_open.items()))
        by_key: dict[tuple[str, bytes], SearchKey] = {}
        for (pid, _, segment), key in self._search_keys.items():
            if patient_id is not None and pid != patient_id:
                continue
            sk = by_key.setdefault((pid, key), SearchKey(pid, key))
            sk.segments.add(segment)
        return list(by_key.values())

    async def search(
        self,
        terms: Iterable[str],
        *,
        patient_id: str | None = None,
        search_keys: Iterable[SearchKey] | None = None,
    ) -> list[Match]:
        """Granted segments holding every term (``loinc:4548-4``, ``system|code`` or words)."""
        terms = list(terms)
        keys = list(search_keys) if search_keys is not None else await self.search_keys(patient_id)
        if patient_id is not None:
            keys = [k for k in keys if k.patient_id == patient_id]

        async def one(sk: SearchKey) -> list[Match]:
            trapdoors = sorted(set(trapdoors_for(sk.key, terms).values()))
            if not trapdoors:
                return []
            if len(trapdoors) > MAX_TRAPDOORS:
                raise ValueError(f"at most {MAX_TRAPDOORS} keywords per search")
            async with self._limit:
                resp = await self._request(
                    "POST",
                    "/v1/search",
                    json={"trapdoors": trapdoors, "patient_id": sk.patient_id},
                )
            return [
                Match(m["patient_id"], m["record_id"], m["segment"])
                for m in resp.json()["matches"]
                if m["patient_id"] == sk.patient_id
            ]

        found = await gather_all(*(one(k) for k in keys))
        return sorted({m for matches in found for m in matches})


# -------------------------------------------------------------------- helpers


def _announced_size(answer: Mapping[str, Any], names: Iterable[str]) -> int:
    """The ciphertext bytes of ``names`` as the (not yet verified) manifest announces
    them: for a progress display only, 0 if the answer does not say."""
    try:
        entries = answer["signed_manifest"]["manifest"]["segments"]
        sizes = {str(e["name"]): int(e["size"]) for e in entries}
    except (KeyError, TypeError, ValueError):
        return 0
    return sum(sizes.get(n, 0) for n in names)


def _error(resp: httpx.Response) -> AccessError:
    return AccessError(resp.status_code, problem_body(resp))
