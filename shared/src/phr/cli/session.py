"""One invocation's state: options, the user's home, keys, verified parameters, a token.

Every command runs through :func:`run`, which turns every failure a person can meet
(system not running, wrong passphrase, no permission, bad FHIR, …) into one line on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import typer

from phr.cli.home import DEFAULT_KGC_URL, CliError, Home, Profile
from phr.cli.output import Mode, fail
from phr.crypto.errors import CryptoError, WrongPassphrase
from phr.crypto.export import KeyMaterial
from phr.fhir.validate import FhirValidationError
from phr.identity.params import ParamsInvalid, SystemParams
from phr.identity.tokens import Audience
from phr.sdk.errors import ApiError, Unreachable
from phr.sdk.identity import IdentityClient, Login

T = TypeVar("T")


@dataclass
class Session:
    home: Home
    as_json: bool = False
    passphrase_file: Path | None = None
    kgc_url_option: str | None = None
    debug: bool = False
    _keys: KeyMaterial | None = field(default=None, repr=False)
    _params: SystemParams | None = None
    _login: Login | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- identity

    @property
    def kgc_url(self) -> str:
        if self.kgc_url_option:
            return self.kgc_url_option
        env = os.environ.get("PHR_KGC_URL")
        if env:
            return env
        if self.home.exists():
            return self.home.load_profile().kgc_url
        return DEFAULT_KGC_URL

    def profile(self) -> Profile:
        return self.home.load_profile()

    def passphrase(self, *, confirm: bool = False) -> str:
        if self.passphrase_file is not None:
            try:
                return self.passphrase_file.read_text().rstrip("\n")
            except OSError as exc:
                raise CliError(f"cannot read the passphrase file: {exc.strerror}") from None
        env = os.environ.get("PHR_PASSPHRASE")
        if env:
            return env
        try:
            text: str = typer.prompt(
                "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True
            )
        except typer.Abort:
            raise CliError(
                "a passphrase is needed (prompt, PHR_PASSPHRASE or --passphrase-file)"
            ) from None
        return text

    def keys(self) -> KeyMaterial:
        if self._keys is None:
            phrase = self.passphrase() if self.home.needs_passphrase() else None
            self._keys = self.home.load_keys(phrase)
        return self._keys

    def kgc(self) -> IdentityClient:
        return IdentityClient(self.kgc_url)

    async def params(self) -> SystemParams:
        """The system parameters, verified against the KGC key pinned in the profile."""
        if self._params is None:
            profile = self.home.load_profile() if self.home.profile_file.exists() else None
            async with self.kgc() as kgc:
                params, pin = await kgc.params(profile.pin if profile else None)
            if profile is not None and profile.pin != pin:
                self.home.save_profile(profile.model_copy(update={"pin": pin}))
            self._params = params
        return self._params

    @property
    def tokens(self) -> Login:
        """The user's tokens, one per audience (what the SDK's clients take)."""
        if self._login is None:
            self._login = Login(self.kgc_url, self.profile().user_id, self.keys().user.signing)
        return self._login

    async def token(self, audience: Audience) -> str:
        """The user's token for one service (``audience``): the others refuse it."""
        return await self.tokens.for_audience(audience)

    async def service_url(self, name: str) -> str:
        params = await self.params()
        entry = params.services.get(name)
        if entry is None or not entry.url:
            raise CliError(f"the system parameters name no {name} service")
        return entry.url


def run(session: Session, work: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine; report any failure on one line and exit non-zero.

    With ``--debug`` the traceback goes to stderr first; a server error (5xx) names the
    correlation id to quote to the operator (the services' logs carry it).
    """
    Mode.debug = Mode.debug or session.debug
    return run_plain(work)


def run_plain(work: Callable[[], Awaitable[T]]) -> T:
    """:func:`run` for a command that needs no identity (no session)."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - a person gets one line, never a traceback
        if Mode.debug:
            traceback.print_exc(file=sys.stderr)
        report_failure(exc)


def report_failure(exc: Exception) -> NoReturn:
    """One line (or one JSON error object) for what went wrong, and a non-zero exit."""
    if isinstance(exc, Unreachable | httpx.TransportError):
        fail(f"{exc} — is the system running? (`make run`)", kind="unreachable")
    if isinstance(exc, ApiError):
        cid = exc.problem.get("correlation_id")
        fail(
            _api_message(exc),
            status=exc.status,
            type=exc.problem.get("type"),
            correlation_id=str(cid) if cid else None,
        )
    if isinstance(exc, WrongPassphrase):
        fail("wrong passphrase (or the keystore was altered)")
    if isinstance(exc, FhirValidationError):
        fail(f"invalid FHIR: {exc}")
    if isinstance(exc, ParamsInvalid):
        fail(f"system parameters rejected: {exc}")
    if isinstance(exc, CliError | CryptoError):
        fail(str(exc))
    if isinstance(exc, OSError):
        fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "))
    fail(str(exc) or type(exc).__name__)


def _api_message(exc: ApiError) -> str:
    hints = {401: "not logged in or token refused", 403: "no permission", 404: "not found"}
    title = exc.problem.get("title") or hints.get(exc.status, "request failed")
    detail = f": {exc.detail}" if exc.detail else ""
    cid = exc.problem.get("correlation_id")
    quote = f" [correlation id {cid}]" if cid and exc.status >= 500 else ""
    return f"{title} ({exc.status}){detail}{quote}"


def session_from(ctx: typer.Context) -> Session:
    obj: Any = ctx.obj
    if not isinstance(obj, Session):
        raise CliError("internal: no session")
    return obj
