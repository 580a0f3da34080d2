"""``SharingClient``: the patient's (or his delegate's) side of grants, through owner-api.

All key material is made here: kfrags (t of N, each sealed to one SRS node; node keys
and t from the KGC's signed ``/v1/params``, verified and pinned), re-wrapped capsules,
segment keys sealed to a delegate. owner-api and the SRS see only sealed kfrags and
signed documents::

    async with SharingClient(owner_url, kgc_url, token, user_keys, user_id=pid,
                             master=master) as sharing:
        await sharing.publish_keys(pid)                       # once, at enrolment
        g = await sharing.grant_user(pid, doctor_id, ["labs"], purpose="treatment")
        await sharing.grant_group(pid, {"role": "nurse", "org": org}, ["labs"])
        await sharing.revoke(pid, g.grant_id)                 # + rotate + re-grant others
        await sharing.delegate(pid, caregiver_id, ["labs"])
        await sharing.set_emergency_segments(pid, ["conditions", "medications"])

A delegate builds the client with ``master=None`` and his own keys: he grants and
revokes within his scope with the segment keys the patient sealed to him (see
``owner_api.sharing.delegations`` for what that implies).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from phr.api.ids import key_grant_id
from phr.api.owner import GrantOut
from phr.client.grant import SrsNode, make_grant_from_keys
from phr.client.rotation import rotate_segment
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.manifest import SignedRecordManifest, verify_manifest
from phr.crypto.pre import KeyCapsule, PrePublicKey, PreSecretKey, open_sealed_key, seal_to_key
from phr.crypto.published_keys import PatientKeys, SegmentPublicKey, sign_patient_keys
from phr.crypto.seal import NodePublicKey
from phr.crypto.signing import b64u_encode
from phr.identity.params import ParamsPin, SystemParams, verify_params
from phr.identity.tokens import Audience
from phr.sdk.base import BearerClient, TokenSource
from phr.sdk.errors import ApiError, Unreachable, problem_body

EMERGENCY_GROUPS: tuple[dict[str, str], ...] = ({"role": "doctor"}, {"role": "nurse"})


class SharingError(ApiError):
    """owner-api or the KGC refused a call; ``problem`` is the RFC 9457 body."""


class RevocationPending(SharingError):
    """The grant is revoked and its ``acl.revoked`` emitted, but too few SRS nodes
    confirmed it before owner-api's deadline: the grantee may still be served until they
    catch up. Revoking again is harmless and waits again. ``grant`` is the revoked grant."""

    def __init__(self, grant: GrantOut) -> None:
        self.grant = grant
        super().__init__(
            202,
            {
                "title": "Revocation not yet enforced",
                "detail": f"grant {grant.grant_id} is revoked, but too few SRS nodes have "
                "applied it yet; revoke again to wait for them",
            },
        )


class NoSegmentKey(Exception):
    """This client holds no secret key for a segment version (a delegate out of scope)."""


def _ms(value: datetime | None) -> datetime | None:
    """Millisecond precision (what owner-api stores), UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class SharingClient(BearerClient):
    """Grants, rotation, delegation and emergency segments for one caller (his token)."""

    audience: ClassVar[Audience] = "owner-api"

    def __init__(
        self,
        owner_api_url: str,
        kgc_url: str,
        token: TokenSource,
        keys: UserKeys,
        *,
        user_id: str,
        master: PatientMasterKey | None = None,
        pin: ParamsPin | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(token, http=http, timeout_s=30.0)
        self._owner = owner_api_url.rstrip("/")
        self._kgc = kgc_url.rstrip("/")
        self.keys = keys
        self.user_id = user_id
        self.master = master
        self.pin = pin
        self._params: SystemParams | None = None

    # ---------------------------------------------------------------- plumbing

    async def _call(self, method: str, url: str, *, ok: Sequence[int] = (200,), **kw: Any) -> Any:
        resp = await self._send(method, url, ok=ok, **kw)
        return resp.json() if resp.content else None

    async def _send(
        self, method: str, url: str, *, ok: Sequence[int] = (200,), **kw: Any
    ) -> httpx.Response:
        try:
            # the directory and the system parameters are the KGC's; the rest owner-api's
            audience = "kgc" if url.startswith(self._kgc + "/") else None
            headers = await self._headers(audience)
            resp = await self._http.request(method, url, headers=headers, **kw)
        except httpx.TransportError as exc:
            raise Unreachable(f"{url}: {type(exc).__name__}") from exc
        if resp.status_code not in ok:
            raise SharingError(resp.status_code, problem_body(resp))
        return resp

    def _p(self, patient_id: str, path: str = "") -> str:
        return f"{self._owner}/v1/patients/{patient_id}{path}"

    async def params(self) -> SystemParams:
        """The KGC's system parameters, signature verified against the pinned key."""
        if self._params is None:
            doc = await self._call("GET", f"{self._kgc}/v1/params")
            self._params, self.pin = verify_params(doc, self.pin)
        return self._params

    async def _nodes(self) -> tuple[list[SrsNode], int]:
        params = await self.params()
        nodes = [SrsNode(n.id, NodePublicKey.from_b64(n.x25519_public)) for n in params.srs.nodes]
        if not nodes:
            raise ValueError("the system parameters list no SRS node")
        return nodes, params.srs.threshold

    async def versions(self, patient_id: str) -> dict[str, int]:
        """Current key version per segment (absent: 1)."""
        body = await self._call("GET", self._p(patient_id, "/keys"))
        return {k: int(v) for k, v in body["versions"].items()}

    # ---------------------------------------------------------------- keys

    def _master(self) -> PatientMasterKey:
        if self.master is None:
            raise NoSegmentKey("only the patient (holding the master secret) can do this")
        return self.master

    async def publish_keys(self, patient_id: str, segments: Iterable[str] | None = None) -> None:
        """Sign and publish the current public key of each segment (for contributors)."""
        master = self._master()
        names = list(segments) if segments is not None else list((await self.params()).segments)
        versions = await self.versions(patient_id)
        doc = PatientKeys(
            patient_id=patient_id,
            segments={
                s: SegmentPublicKey(
                    version=versions.get(s, 1),
                    public_key=master.segment_public_key(s, versions.get(s, 1)).b64(),
                )
                for s in names
            },
            issued_at=datetime.now(UTC).isoformat(),
            author=self.keys.signing.verify_key.b64(),
        )
        signed = sign_patient_keys(doc, self.keys.signing)
        await self._call(
            "PUT",
            self._p(patient_id, "/keys"),
            json={"signed_keys": signed.model_dump(mode="json")},
        )

    async def _segment_keys(
        self, patient_id: str
    ) -> tuple[Callable[[str, int], PreSecretKey], PreSecretKey, Callable[[str], list[int]]]:
        """(segment key by (segment, version), kfrag signer, versions held of a segment)."""
        if self.master is not None:
            master = self.master
            current = await self.versions(patient_id)
            return (
                master.segment_secret_key,
                master.kfrag_signer(),
                lambda s: list(range(1, current.get(s, 1) + 1)),
            )
        body = await self._call("GET", self._p(patient_id, f"/delegations/{self.user_id}/keys"))
        held: dict[tuple[str, int], PreSecretKey] = {}
        for segment, by_version in body["sealed_keys"].items():
            for version, sealed in by_version.items():
                raw = open_sealed_key(self.keys.pre, KeyCapsule.from_b64(sealed))
                held[(segment, int(version))] = PreSecretKey.from_bytes(raw)

        def key(segment: str, version: int) -> PreSecretKey:
            try:
                return held[(segment, version)]
            except KeyError:
                raise NoSegmentKey(f"no key for {segment} v{version} was delegated") from None

        return key, self.keys.pre, lambda s: sorted(v for (g, v) in held if g == s)

    async def _key_grants(
        self,
        patient_id: str,
        *,
        grant_id: str,
        grantee_id: str,
        receiving_pk: PrePublicKey,
        versions: Mapping[str, Sequence[int]],
        not_before: datetime | None,
        expires_at: datetime | None,
        purpose: str | None,
    ) -> list[dict[str, Any]]:
        nodes, threshold = await self._nodes()
        key, signer, _ = await self._segment_keys(patient_id)
        out = []
        for segment, segment_versions in versions.items():
            for version in segment_versions:
                g = make_grant_from_keys(
                    key(segment, version),
                    signer,
                    self.keys.signing,
                    patient_id=patient_id,
                    grantee_id=grantee_id,
                    grantee_pk=receiving_pk,
                    segment=segment,
                    key_version=version,
                    nodes=nodes,
                    threshold=threshold,
                    grant_id=key_grant_id(grant_id, segment, version),
                    not_before=_iso(not_before),
                    expires_at=_iso(expires_at),
                    purpose=purpose,
                )
                out.append(
                    {
                        "segment": segment,
                        "key_version": version,
                        "signed_grant": g.signed.model_dump(mode="json"),
                        "sealed_kfrags": {n: b64u_encode(s) for n, s in g.sealed_kfrags.items()},
                    }
                )
        return out

    # ---------------------------------------------------------------- grants

    async def grant_user(
        self,
        patient_id: str,
        grantee_user_id: str,
        segments: Sequence[str],
        *,
        not_before: datetime | None = None,
        expires_at: datetime | None = None,
        data_from: datetime | None = None,
        purpose: str | None = None,
        grant_id: str | None = None,
    ) -> GrantOut:
        """Grant ``segments`` to one user (kfrags to his Umbral key from the KGC)."""
        user = await self._call("GET", f"{self._kgc}/v1/users/{grantee_user_id}")
        return await self._grant(
            patient_id,
            {"grantee_user_id": grantee_user_id},
            grantee_user_id,
            PrePublicKey.from_b64(user["umbral_public"]),
            segments,
            not_before=not_before,
            expires_at=expires_at,
            data_from=data_from,
            purpose=purpose,
            grant_id=grant_id,
            emergency=False,
        )

    async def create_group(self, selector: Mapping[str, str]) -> dict[str, Any]:
        """The KGC group of an attribute selector (created if new): id and public keys."""
        body: dict[str, Any] = await self._call(
            "POST", f"{self._kgc}/v1/groups", json={"selector": dict(selector)}, ok=(200, 201)
        )
        return body

    async def grant_group(
        self,
        patient_id: str,
        selector: Mapping[str, str],
        segments: Sequence[str],
        *,
        not_before: datetime | None = None,
        expires_at: datetime | None = None,
        data_from: datetime | None = None,
        purpose: str | None = None,
        grant_id: str | None = None,
        emergency: bool = False,
    ) -> GrantOut:
        """Grant ``segments`` to everyone matching ``selector`` (e.g. role=doctor, org=X),
        members who join later included: kfrags go to the KGC's group key."""
        group = await self.create_group(selector)
        return await self._grant(
            patient_id,
            {"group_id": group["group_id"]},
            group["group_id"],
            PrePublicKey.from_b64(group["public_key"]),
            segments,
            not_before=not_before,
            expires_at=expires_at,
            data_from=data_from,
            purpose=purpose,
            grant_id=grant_id,
            emergency=emergency,
        )

    async def _grant(
        self,
        patient_id: str,
        grantee: dict[str, str],
        grantee_id: str,
        receiving_pk: PrePublicKey,
        segments: Sequence[str],
        *,
        not_before: datetime | None,
        expires_at: datetime | None,
        data_from: datetime | None,
        purpose: str | None,
        grant_id: str | None,
        emergency: bool,
    ) -> GrantOut:
        grant_id = grant_id or "g_" + uuid.uuid4().hex
        not_before, expires_at, data_from = _ms(not_before), _ms(expires_at), _ms(data_from)
        _, threshold = await self._nodes()
        _, _, held = await self._segment_keys(patient_id)
        names = list(dict.fromkeys(segments))
        key_grants = await self._key_grants(
            patient_id,
            grant_id=grant_id,
            grantee_id=grantee_id,
            receiving_pk=receiving_pk,
            # every version so far: records not re-wrapped stay readable (past data)
            versions={s: held(s) or [1] for s in names},
            not_before=not_before,
            expires_at=expires_at,
            purpose=purpose,
        )
        body = {
            "grant_id": grant_id,
            **grantee,
            "segments": names,
            "not_before": _iso(not_before),
            "expires_at": _iso(expires_at),
            "data_from": _iso(data_from),
            "purpose": purpose,
            "emergency": emergency,
            "threshold": threshold,
            "key_grants": key_grants,
        }
        doc = await self._call("POST", self._p(patient_id, "/grants"), json=body, ok=(200, 201))
        return GrantOut.model_validate(doc)

    async def list_grants(self, patient_id: str) -> list[GrantOut]:
        body = await self._call("GET", self._p(patient_id, "/grants"))
        return [GrantOut.model_validate(g) for g in body]

    async def revoke(
        self, patient_id: str, grant_id: str, *, rotate: bool = True, rewrap: bool = False
    ) -> GrantOut:
        """Revoke (SRS nodes delete its kfrags: when this returns, no threshold of them
        serves the grant any more); then, for the patient, rotate the grant's segments
        and re-grant the grants still active (``rotate``), and re-wrap older records'
        capsules (``rewrap``) so the old kfrags open nothing at all.

        Raises :class:`RevocationPending` (after the rotation) when owner-api recorded
        the revocation but too few SRS nodes confirmed it in time."""
        resp = await self._send("DELETE", self._p(patient_id, f"/grants/{grant_id}"), ok=(200, 202))
        revoked = GrantOut.model_validate(resp.json())
        if rotate and self.master is not None:
            await self.rotate(patient_id, revoked.segments, rewrap=rewrap)
        if resp.status_code == 202:
            raise RevocationPending(revoked)
        return revoked

    # ---------------------------------------------------------------- rotation

    async def rotate(
        self, patient_id: str, segments: Sequence[str], *, rewrap: bool = False
    ) -> dict[str, int]:
        """New key version for ``segments``: publish the new public keys, re-grant the
        active grants and re-seal to active delegates for it; optionally re-wrap older
        records' capsules (capsules only). Returns segment -> new version."""
        master = self._master()
        body = await self._call(
            "POST", self._p(patient_id, "/keys/rotate"), json={"segments": list(segments)}
        )
        new: dict[str, int] = {k: int(v) for k, v in body["versions"].items()}
        await self.publish_keys(patient_id)
        for grant in await self.list_grants(patient_id):
            covered = {s: [v] for s, v in new.items() if s in grant.segments}
            if grant.status != "active" or not covered:
                continue
            key_grants = await self._key_grants(
                patient_id,
                grant_id=grant.grant_id,
                grantee_id=grant.grantee_user_id or grant.group_id or "",
                receiving_pk=PrePublicKey.from_b64(grant.receiving_pk),
                versions=covered,
                not_before=grant.not_before,
                expires_at=grant.expires_at,
                purpose=grant.purpose,
            )
            await self._call(
                "POST",
                self._p(patient_id, f"/grants/{grant.grant_id}/key-grants"),
                json={"key_grants": key_grants},
            )
        for delegation in await self._call("GET", self._p(patient_id, "/delegations")):
            if delegation["active"] and set(new) & set(delegation["segments"]):
                await self.delegate(
                    patient_id, delegation["delegate_user_id"], delegation["segments"]
                )
        if rewrap:
            await self.rewrap_records(patient_id, list(new), master)
        return new

    async def rewrap_records(
        self, patient_id: str, segments: Sequence[str], master: PatientMasterKey | None = None
    ) -> int:
        """Re-wrap every record's capsules of ``segments`` to the current version; the
        number of records changed."""
        master = master or self._master()
        versions = await self.versions(patient_id)
        changed = 0
        for info in await self._call(
            "GET", self._p(patient_id, "/records"), params={"limit": 1000}
        ):
            record_id = info["record_id"]
            detail = await self._call("GET", self._p(patient_id, f"/records/{record_id}"))
            signed = SignedRecordManifest.model_validate(detail["signed_manifest"])
            verify_manifest(signed)
            updated = signed
            for entry in signed.manifest.segments:
                target = versions.get(entry.name, 1)
                if entry.name in segments and entry.capsule_version < target:
                    updated = rotate_segment(
                        updated, master, self.keys.signing, segment=entry.name, to_version=target
                    )
            if updated is not signed:
                await self._call(
                    "PUT",
                    self._p(patient_id, f"/records/{record_id}/manifest"),
                    json={"signed_manifest": updated.model_dump(mode="json")},
                )
                changed += 1
        return changed

    # ---------------------------------------------------------------- delegation

    async def delegate(
        self, patient_id: str, delegate_user_id: str, segments: Sequence[str]
    ) -> dict[str, Any]:
        """Let a caregiver or guardian grant and revoke ``segments`` for the patient; seals
        him the segment keys of every version so far (see ``owner_api.sharing.delegations``)."""
        master = self._master()
        user = await self._call("GET", f"{self._kgc}/v1/users/{delegate_user_id}")
        delegate_pk = PrePublicKey.from_b64(user["umbral_public"])
        versions = await self.versions(patient_id)
        sealed = {
            s: {
                str(v): seal_to_key(delegate_pk, master.segment_secret_key(s, v).to_bytes()).b64()
                for v in range(1, versions.get(s, 1) + 1)
            }
            for s in segments
        }
        body: dict[str, Any] = await self._call(
            "PUT",
            self._p(patient_id, f"/delegations/{delegate_user_id}"),
            json={"segments": list(segments), "sealed_keys": sealed},
        )
        return body

    async def undelegate(
        self, patient_id: str, delegate_user_id: str, *, rotate: bool = True
    ) -> dict[str, Any]:
        """End a delegation; by default rotate its segments so the former delegate's keys
        open nothing written from now on."""
        body: dict[str, Any] = await self._call(
            "DELETE", self._p(patient_id, f"/delegations/{delegate_user_id}")
        )
        if rotate and self.master is not None:
            await self.rotate(patient_id, body["segments"])
        return body

    # ---------------------------------------------------------------- emergency

    async def set_emergency_segments(
        self, patient_id: str, segments: Sequence[str]
    ) -> list[GrantOut]:
        """Choose what break-glass may open: replaces the emergency grants by ones to the
        groups {role: doctor} and {role: nurse} for ``segments`` (SRS nodes demand a
        reason and bound each opening in time)."""
        await self._call(
            "PUT", self._p(patient_id, "/emergency"), json={"segments": list(segments)}
        )
        for grant in await self.list_grants(patient_id):
            if grant.emergency and grant.status == "active":
                await self.revoke(patient_id, grant.grant_id, rotate=False)
        if not segments:
            return []
        return [
            await self.grant_group(
                patient_id, selector, segments, purpose="emergency", emergency=True
            )
            for selector in EMERGENCY_GROUPS
        ]
