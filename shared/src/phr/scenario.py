"""Build a situation on a running system the way clients do: the steps the tests, the
benchmarks and ``phr demo`` share (organisations, enrolment, approval, login, upload,
grants, readers).

    async with Scenario.from_operator_file(urls, operator_json) as sc:
        org = await sc.create_org("St Elsewhere", "hospital")
        doctor = await sc.staff("doctor", org, display_name="Ada Lovelace")  # approved
        patient = await sc.patient()                      # master key, keys published
        record = await sc.upload(patient, bundle)         # phr.api.owner.RecordOut
        await sc.grant_user(patient, doctor, ["labs"])    # or grant_group(patient, {...})
        async with await sc.reader(doctor) as reader:     # phr.sdk.AccessClient
            bundle = await reader.fetch_record(patient.user_id, record.record_id)

Only the SDK, client, crypto and identity packages (no server framework): what a
hospital's own script could run. Every call that acts as a person logs him in for the
audience it needs (:class:`phr.sdk.identity.Login`) unless it is given a token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import httpx

from phr.api.owner import GrantOut, RecordOut
from phr.client.record import OwnerKeys
from phr.crypto.export import import_secret_keys
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.pre import PreSecretKey
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope, new_event
from phr.identity.params import ParamsPin, SystemParams
from phr.identity.tokens import Audience
from phr.sdk.access import AccessClient
from phr.sdk.base import Tokens, TokenSource
from phr.sdk.groups import member_group_key
from phr.sdk.identity import IdentityClient, Login
from phr.sdk.records import RecordsClient
from phr.sdk.sharing import SharingClient

#: the Synthea R4 Bundle (seed 42) the tests and benchmarks upload; a source checkout's
#: file (shared/tests/data), not shipped in the distribution
FIXTURE = Path(__file__).resolve().parents[2] / "tests/data/synthea_r4_seed42.json.gz"


@dataclass
class Person:
    """An enrolled user and his secret keys, held by his client (never by a service).

    ``master`` is a patient's master secret (his segment keys derive from it)."""

    user_id: str
    role: str
    keys: UserKeys
    org: str | None = None
    dept: str | None = None
    status: str = "active"
    master: PatientMasterKey | None = None
    display_name: str | None = None

    @property
    def id(self) -> str:
        return self.user_id

    def owner_keys(self, versions: Mapping[str, int] | None = None) -> OwnerKeys:
        """The keys a patient's client encrypts his own records with."""
        if self.master is None:
            raise ValueError(f"{self.user_id} holds no master secret (not a patient)")
        return OwnerKeys(self.master, dict(versions or {}))


@dataclass(frozen=True)
class Endpoints:
    """The base URLs a client calls."""

    kgc: str
    owner_api: str
    user_api: str


def record_deleted_events(key: SigningKey, n: int, subjects: int, tag: str) -> list[Envelope]:
    """``n`` ``record.deleted`` events signed with ``key`` as owner-api's, spread over
    ``subjects`` patients (``{tag}-{i}``): a load for the ledger, no record behind it."""
    return [
        new_event(
            key=key,
            source="owner-api",
            type="record.deleted",
            schemaversion=1,
            subject=f"{tag}-{i % subjects}",
            data={"record_id": f"{tag}-{i}"},
            time=datetime.now(UTC),
        )
        for i in range(n)
    ]


def operator_from_file(path: Path) -> Person:
    """The operator whose credential the KGC wrote at its first start (a key export)."""
    material = import_secret_keys(path.read_text())
    if material.user_id is None:
        raise ValueError(f"{path} names no user id")
    return Person(user_id=material.user_id, role="admin", keys=material.user)


async def enrol(
    kgc: IdentityClient,
    role: str,
    org: str | None = None,
    dept: str | None = None,
    *,
    display_name: str | None = None,
) -> Person:
    """Make keys on this machine and enrol them: a patient is active at
    once, staff wait for the operator's approval (:meth:`Scenario.approve`; ``status``
    says which)."""
    keys = UserKeys.generate()
    body = await kgc.enrol(keys, role, org, dept, display_name=display_name)
    return Person(body["user_id"], role, keys, org, dept, body["status"], display_name=display_name)


class Scenario:
    """Builds people, records and grants on a running system, as its operator.

    ``operator_id`` and ``operator_signing`` are the operator's user id and signing key
    (he creates organisations and approves staff). ``pin`` is the KGC key to hold the
    system parameters to (default: whatever the KGC first answers). The HTTP client is
    shared by every call (closed on exit if none was given)."""

    def __init__(
        self,
        urls: Endpoints,
        operator_id: str,
        operator_signing: SigningKey,
        *,
        pin: ParamsPin | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.urls = urls
        self.pin = pin
        self.operator_id = operator_id
        self._operator = Login(urls.kgc, operator_id, operator_signing)
        self.kgc = IdentityClient(urls.kgc, http=http)
        self.http = self.kgc.http
        self._params: SystemParams | None = None

    @classmethod
    def from_operator_file(
        cls, urls: Endpoints, path: Path, *, http: httpx.AsyncClient | None = None
    ) -> Scenario:
        operator = operator_from_file(path)
        return cls(urls, operator.user_id, operator.keys.signing, http=http)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.kgc.aclose()  # closes the HTTP client if the KGC client made it

    async def operator_token(self) -> str:
        """The operator's KGC token (refreshed before it expires)."""
        return await self._operator.for_audience("kgc")

    async def params(self) -> SystemParams:
        """The KGC's signed system parameters (pinned on first use, then kept)."""
        if self._params is None:
            self._params, self.pin = await self.kgc.params(self.pin)
        return self._params

    # ---------------------------------------------------------------- people

    async def create_org(self, name: str, kind: str) -> str:
        """A new organisation (names are unique): its id."""
        doc = await self.kgc.create_org(await self.operator_token(), name, kind)
        return str(doc["organisation_id"])

    async def approve(self, person: Person | str) -> None:
        """The operator approves a pending staff member."""
        user_id = person if isinstance(person, str) else person.user_id
        await self.kgc.approve(await self.operator_token(), user_id)
        if isinstance(person, Person):
            person.status = "active"

    async def staff(
        self, role: str, org: str, dept: str | None = None, *, display_name: str | None = None
    ) -> Person:
        """A staff member: keys made, enrolled, approved by the operator."""
        person = await enrol(self.kgc, role, org, dept, display_name=display_name)
        await self.approve(person)
        return person

    async def patient(
        self, *, publish_keys: bool = True, display_name: str | None = None
    ) -> Person:
        """A patient: keys and a master secret made here, enrolled (active at once) and,
        unless told otherwise, his segment public keys published for contributors."""
        person = await enrol(self.kgc, "patient", display_name=display_name)
        person.master = PatientMasterKey.generate()
        if publish_keys:
            async with self.sharing(person) as sharing:
                await sharing.publish_keys(person.user_id)
        return person

    # ---------------------------------------------------------------- tokens

    def tokens(self, person: Person) -> Login:
        """``person``'s tokens, one per audience, for the SDK's clients."""
        return Login(self.urls.kgc, person.user_id, person.keys.signing)

    async def login(self, person: Person, audience: Audience) -> str:
        """One token for ``audience`` (a service kind, or several)."""
        return await self.kgc.login(person.user_id, person.keys.signing, audience=audience)

    # ---------------------------------------------------------------- clients

    def records(self, person: Person, token: TokenSource | None = None, **kw: Any) -> RecordsClient:
        """owner-api's records client for ``person`` (close it, or use ``async with``)."""
        return RecordsClient(self.urls.owner_api, token or self.tokens(person), **kw)

    def sharing(self, patient: Person, token: TokenSource | None = None) -> SharingClient:
        """The grant side of owner-api for ``patient`` (with his master secret)."""
        return SharingClient(
            self.urls.owner_api,
            self.urls.kgc,
            token or self.tokens(patient),
            patient.keys,
            user_id=patient.user_id,
            master=patient.master,
            pin=self.pin,
            http=self.http,
        )

    async def reader(
        self, person: Person, token: TokenSource | None = None, *, groups: bool = True, **kw: Any
    ) -> AccessClient:
        """A grantee's user-api client: node keys and threshold from the KGC's verified
        parameters; with ``groups``, group keys fetched from the KGC as grants to his
        groups come (``AccessClient``'s keywords otherwise)."""
        tokens = token or self.tokens(person)
        kgc_url = self.urls.kgc

        async def kgc_token() -> str:
            if isinstance(tokens, Tokens):
                return await tokens.for_audience("kgc")
            return tokens if isinstance(tokens, str) else await self.login(person, "kgc")

        async def group_key(group_id: str, public_key: str) -> PreSecretKey | None:
            try:
                return await member_group_key(
                    kgc_url, await kgc_token(), person.keys, group_id, public_key=public_key
                )
            except Exception:  # noqa: BLE001 - not a member: the grant is not for him
                return None

        kw.setdefault("user_id", person.user_id)
        if groups:
            kw.setdefault("group_key_resolver", group_key)
        return AccessClient.from_params(
            self.urls.user_api, tokens, keys=person.keys, params=await self.params(), **kw
        )

    # ---------------------------------------------------------------- records, grants

    async def upload(
        self,
        patient: Person,
        bundle: dict[str, Any] | str | bytes,
        *,
        token: TokenSource | None = None,
        versions: Mapping[str, int] | None = None,
        validate: bool = False,
        record_id: str | None = None,
    ) -> RecordOut:
        """Encrypt ``bundle`` on this machine under ``patient``'s keys, upload, commit."""
        async with self.records(patient, token) as records:
            return await records.upload_record(
                bundle,
                patient_id=patient.user_id,
                keys=patient.owner_keys(versions),
                author=patient.keys.signing,
                validate=validate,
                record_id=record_id,
            )

    async def grant_user(
        self,
        patient: Person,
        grantee: Person | str,
        segments: Sequence[str],
        *,
        token: TokenSource | None = None,
        **kw: Any,
    ) -> GrantOut:
        """``patient`` grants ``segments`` to one user (``SharingClient.grant_user``'s
        keywords: expiry, purpose, grant id …)."""
        grantee_id = grantee if isinstance(grantee, str) else grantee.user_id
        async with self.sharing(patient, token) as sharing:
            return await sharing.grant_user(patient.user_id, grantee_id, segments, **kw)

    async def grant_group(
        self,
        patient: Person,
        selector: Mapping[str, str],
        segments: Sequence[str],
        *,
        token: TokenSource | None = None,
        **kw: Any,
    ) -> GrantOut:
        """``patient`` grants ``segments`` to everyone matching ``selector``
        (e.g. ``{"role": "nurse", "org": org}``), later members included."""
        async with self.sharing(patient, token) as sharing:
            return await sharing.grant_group(patient.user_id, selector, segments, **kw)
