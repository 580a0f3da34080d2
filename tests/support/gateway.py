"""A hospital gateway for the e2e tier, set up the way a hospital does it: `phr enrol
--role system` into the gateway's home, the organisation's admin approves, staff homes
placed in ``staff/``, client systems registered with `phr gateway register-client`, and
`phr gateway` running as a process.

    gw = await start_gateway(stack, tmp, org, admin_token, kgc)
    lis = gw.register("lis", "system/Observation.rs system/Bundle.c")
    token = await lis.token("system/Bundle.c")
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fhir.resources.R4B.operationoutcome import OperationOutcome

from phr.cli.home import Home
from phr.cli.identity import create_identity
from phr.cli.session import Session
from phr.gateway.assertion import new_client_key, public_jwks, sign_assertion
from phr.gateway.smart import ASSERTION_TYPE, ClientRegistration, ClientRegistry
from tests.support.cli import PASSPHRASE, Phr
from tests.support.identity import KgcClient, bearer, service_url
from tests.support.waiting import eventually


def assert_outcome(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``resp`` is an R4 OperationOutcome as FHIR JSON, ``status``, first issue ``code``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/fhir+json")
    OperationOutcome.model_validate(resp.json())
    body: dict[str, Any] = resp.json()
    assert body["issue"][0]["code"] == code
    return body


def observation_entry(patient_id: str, full_url: str, **extra: Any) -> dict[str, Any]:
    """A transaction/batch entry creating a glucose Observation (LOINC 2345-7)."""
    return {
        "fullUrl": full_url,
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "valueQuantity": {"value": 5.4, "unit": "mmol/L"},
            **extra,
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmartClient:
    """A registered client system: its private key, and the gateway it logs in to."""

    client_id: str
    key: dict[str, Any]
    url: str

    async def token_response(self, scope: str) -> httpx.Response:
        assertion = sign_assertion(self.key, self.client_id, f"{self.url}/auth/token")
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                f"{self.url}/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "scope": scope,
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": assertion,
                },
            )

    async def token(self, scope: str) -> str:
        resp = await self.token_response(scope)
        assert resp.status_code == 200, resp.text
        token: str = resp.json()["access_token"]
        return token


@dataclass
class Gateway:
    home: Path
    phr: Phr
    system_id: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    staff: dict[str, str] = field(default_factory=dict)  # name -> user id

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def enrol_staff(self, name: str, role: str, org: str) -> str:
        """A staff member's home placed in the gateway (enrolled in-process, like `phr enrol`)."""
        out = await enrol(self.phr.kgc_url, self.home / "staff" / name, role, org)
        self.staff[name] = out
        return out

    def register(
        self, client_id: str, scopes: str, act_as: str | None = None, *, cli: bool = False
    ) -> SmartClient:
        """Register a client system (with `phr gateway register-client` if ``cli``)."""
        key = new_client_key("ES384" if len(client_id) % 2 else "RS384")
        if cli:
            jwks = self.home.parent / f"{client_id}.jwks.json"
            jwks.write_text(json.dumps(public_jwks(key)))
            args = ["--client-id", client_id, "--jwks", str(jwks), "--scope", scopes]
            if act_as is not None:
                args += ["--act-as", act_as]
            self.phr.run("gateway", "register-client", "--home", str(self.home), *args)
        else:
            ClientRegistry(self.home / "clients.json").register(
                ClientRegistration(
                    client_id=client_id, jwks=public_jwks(key), scopes=scopes.split(), act_as=act_as
                )
            )
        return SmartClient(client_id, key, self.url)

    def spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
        env["PHR_PASSPHRASE"] = PASSPHRASE
        with (self.home.parent / f"gateway-{self.port}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "phr.cli", "gateway", "--home", str(self.home)]
                + ["--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def start(self) -> None:
        self.spawn()

        async def up() -> bool:
            assert self.process is not None and self.process.poll() is None, "gateway exited"
            async with httpx.AsyncClient(timeout=5) as http:
                try:
                    return (await http.get(f"{self.url}/fhir/metadata")).status_code == 200
                except httpx.TransportError:
                    return False  # not listening yet

        # A loaded CI machine takes a while to import and start a Python process.
        await eventually(up, timeout=240, interval=0.5)

    async def restart(self) -> None:
        """Registrations are read at start: restart after registering clients."""
        self.stop()
        await self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None


async def approve(kgc: KgcClient, admin_token: str, user_id: str) -> None:
    resp = await kgc.http.post(f"{kgc.url}/v1/users/{user_id}/approve", headers=bearer(admin_token))
    assert resp.status_code == 200, resp.text


async def enrol(kgc_url: str, home: Path, role: str, org: str) -> str:
    """What `phr enrol` does, in this process (a subprocess costs seconds here)."""
    phrase = home.parent / f".{home.name}.passphrase"
    phrase.parent.mkdir(parents=True, exist_ok=True)
    phrase.write_text(PASSPHRASE)
    session = Session(home=Home(home), passphrase_file=phrase, kgc_url_option=kgc_url)
    out = await create_identity(session, name=home.name, role=role, org=org, department=None)
    assert out["status"] == "pending"
    return str(out["user_id"])


async def new_gateway(
    stack: Any, base: Path, org: str, admin_token: str, kgc: KgcClient, *, cli: bool = False
) -> Gateway:
    """A `system` identity of ``org`` enrolled into ``base/home`` (with `phr enrol` if
    ``cli``) and approved by the admin; not started."""
    phr = Phr(service_url(stack, "kgc"))
    home = base / "home"
    if cli:
        out = phr.json("enrol", "--name", "gateway", "--role", "system", "--org", org, home=home)
        assert out["status"] == "pending"
        user_id = str(out["user_id"])
    else:
        user_id = await enrol(phr.kgc_url, home, "system", org)
    await approve(kgc, admin_token, user_id)
    return Gateway(home, phr, user_id)
