"""Who the gateway acts as, and its SDK clients for each: the system identity and staff.

The gateway's home is a PHR home (``phr enrol --role system --org ORG`` with
``PHR_HOME=DIR`` makes it; an admin of the organisation approves it) plus::

    DIR/clients.json          the registered SMART client systems (phr gateway register-client)
    DIR/staff/<name>/         staff homes placed in the gateway (profile.json, keystore.json);
                              a client registered with ``--act-as <user id>`` acts as that one

Every keystore opens with the gateway's passphrase (``--passphrase-file`` or
``PHR_PASSPHRASE``), or with a ``passphrase`` file (0600) beside a staff keystore.
Secret keys stay in this process; tokens come from the KGC's challenge login and are
renewed before they expire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from phr.cli.home import Home, Profile
from phr.crypto.keys import UserKeys
from phr.crypto.pre import PreSecretKey
from phr.identity.params import SystemParams
from phr.identity.tokens import Audience
from phr.sdk.access import AccessClient
from phr.sdk.groups import member_group_key
from phr.sdk.identity import IdentityClient
from phr.sdk.records import RecordsClient
from phr.sdk.transport import new_client

#: log in again this long before the KGC's token would expire (its default life: 300 s)
TOKEN_RENEW_S = 120.0


class GatewayConfigError(Exception):
    """The gateway's home cannot be used (no identity, wrong passphrase, ...)."""


@dataclass
class Identity:
    """One enrolled identity the gateway holds the keys of."""

    profile: Profile
    keys: UserKeys = field(repr=False)
    #: audience -> (token, when it was obtained)
    _tokens: dict[Audience, tuple[str, float]] = field(default_factory=dict, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def user_id(self) -> str:
        return self.profile.user_id

    @property
    def org(self) -> str | None:
        return self.profile.organisation_id

    async def token(self, kgc: IdentityClient, audience: Audience) -> str:
        """This identity's token for one service (``audience``), renewed as it ages."""
        async with self._lock:
            held = self._tokens.get(audience)
            if held is None or time.monotonic() - held[1] > TOKEN_RENEW_S:
                token = await kgc.login(self.user_id, self.keys.signing, audience=audience)
                held = self._tokens[audience] = (token, time.monotonic())
            return held[0]


def _passphrase_for(home: Path, default: str | None) -> str | None:
    own = home / "passphrase"
    if own.exists():
        return own.read_text().rstrip("\n")
    return default


def load_identity(path: Path, passphrase: str | None) -> Identity:
    home = Home(path)
    if not home.profile_file.exists():
        raise GatewayConfigError(f"no identity in {path}: enrol one with PHR_HOME={path} phr enrol")
    profile = home.load_profile()
    try:
        material = home.load_keys(_passphrase_for(path, passphrase))
    except Exception as exc:  # noqa: BLE001 - wrong passphrase, altered file: one line
        raise GatewayConfigError(f"cannot open the keystore in {path}: {exc}") from None
    return Identity(profile, material.user)


@dataclass
class Identities:
    system: Identity
    staff: dict[str, Identity]

    @classmethod
    def load(cls, home: Path, passphrase: str | None) -> Identities:
        system = load_identity(home, passphrase)
        if system.profile.role != "system":
            raise GatewayConfigError(
                f"{home} holds a {system.profile.role}: the gateway needs a `system` identity"
            )
        staff: dict[str, Identity] = {}
        staff_dir = home / "staff"
        if staff_dir.is_dir():
            for sub in sorted(p for p in staff_dir.iterdir() if p.is_dir()):
                ident = load_identity(sub, passphrase)
                if ident.org != system.org:
                    raise GatewayConfigError(f"{sub}: staff of another organisation")
                staff[ident.user_id] = ident
        return cls(system, staff)

    def get(self, act_as: str | None) -> Identity:
        if act_as is None:
            return self.system
        try:
            return self.staff[act_as]
        except KeyError:
            raise GatewayConfigError(f"no staff identity {act_as} in the gateway") from None


class Cloud:
    """The PHR services as the gateway reaches them, and SDK clients per identity."""

    def __init__(
        self, identities: Identities, params: SystemParams, http: httpx.AsyncClient
    ) -> None:
        self.identities = identities
        self.params = params
        self.http = http
        self.kgc = IdentityClient(self.url("kgc"), http=http)
        self._readers: dict[str, AccessClient] = {}

    def url(self, service: str) -> str:
        entry = self.params.services.get(service)
        if entry is None or not entry.url:
            raise GatewayConfigError(f"the system parameters name no {service} service")
        return entry.url

    async def token(self, ident: Identity, audience: Audience) -> str:
        return await ident.token(self.kgc, audience)

    def reader(self, ident: Identity) -> AccessClient:
        """The identity's data-user client (kept: it caches search keys)."""
        client = self._readers.get(ident.user_id)
        if client is None:

            async def token() -> str:
                return await self.token(ident, AccessClient.audience)

            async def group_key(group_id: str, public_key: str) -> PreSecretKey | None:
                try:
                    return await member_group_key(
                        self.url("kgc"),
                        await self.token(ident, "kgc"),
                        ident.keys,
                        group_id,
                        public_key=public_key,
                        http=self.http,
                    )
                except Exception:  # noqa: BLE001 - not a member: the grant is not for us
                    return None

            client = AccessClient.from_params(
                self.url("user-api"),
                token,
                keys=ident.keys,
                params=self.params,
                user_id=ident.user_id,
                group_key_resolver=group_key,
                http=self.http,
            )
            self._readers[ident.user_id] = client
        return client

    def writer(self, ident: Identity) -> RecordsClient:
        async def token() -> str:
            return await self.token(ident, "owner-api")

        return RecordsClient(self.url("owner-api"), token, http=self.http)


@asynccontextmanager
async def open_cloud(home: Path, passphrase: str | None) -> AsyncIterator[Cloud]:
    """Load the identities, verify the system parameters against the pinned KGC key."""
    identities = Identities.load(home, passphrase)
    profile = identities.system.profile
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(new_client(timeout_s=60.0))
        async with IdentityClient(profile.kgc_url, http=http) as kgc:
            params, _ = await kgc.params(profile.pin)
        yield Cloud(identities, params, http)
