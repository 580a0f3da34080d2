"""`make run`'s hospital gateway: the demo hospital's FHIR face on port 8080.

Set up once the way a hospital does it (docs/gateway.md), with the `phr` commands
themselves: the operator creates the organisation "Demo Hospital", a `system`
identity of it is enrolled into ``.local/data/gateway`` (keys made there, under a
random passphrase kept beside them, mode 0600) and approved by the operator; then
``phr gateway --home .local/data/gateway --port 8080`` runs as one more process of the
stack (its log in ``.local/logs/gateway.log``, stopped by ``down``; ``reset`` wipes it
with the KGC's data it belongs to). Patients grant to the identity it prints, hospital
systems register with ``phr gateway register-client --home .local/data/gateway``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from deploy.local.processes import Processes, wait, write_private
from deploy.local.profiles import HOST

NAME = "gateway"
ORGANISATION = "Demo Hospital"
#: the gateway's port in the dev profile (moved by PHR_PORT_OFFSET like every port)
DEV_PORT = 8080


def default_port() -> int:
    offset = int(os.environ.get("PHR_PORT_OFFSET", "0") or 0)
    return int(os.environ.get("PHR_GATEWAY_PORT", DEV_PORT + offset))


class DemoGateway:
    """The demo hospital's gateway of one stack."""

    def __init__(
        self,
        base: Path,
        procs: Processes,
        kgc_url: str,
        operator_home: Path,
        *,
        port: int | None = None,
        organisation: str = ORGANISATION,
    ) -> None:
        self.home = base / NAME
        self.organisation = organisation
        self.procs = procs
        self.kgc_url = kgc_url
        self.operator_home = operator_home
        self.port = port or default_port()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/fhir"

    @property
    def _passphrase_file(self) -> Path:
        return self.home / "passphrase"

    def phr(self, home: Path, *args: str) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
        env |= {"PHR_KGC_URL": self.kgc_url, "PHR_HOME": str(home)}
        argv = [sys.executable, "-m", "phr.cli", "--json"]
        if home == self.home:
            argv += ["--passphrase-file", str(self._passphrase_file)]
        proc = subprocess.run(
            [*argv, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            raise SystemExit(f"phr {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
        out: dict[str, Any] = json.loads(proc.stdout)
        return out

    def ensure_identity(self) -> str:
        """The gateway's `system` identity (enrolled and approved once); its user id."""
        done = self.home / "identity.json"
        if done.exists():
            return str(json.loads(done.read_text())["user_id"])
        self.home.mkdir(parents=True, exist_ok=True)
        if not self._passphrase_file.exists():
            write_private(self._passphrase_file, secrets.token_urlsafe(24))
        org_file = self.home / "organisation.json"
        if not org_file.exists():
            try:
                org = self.phr(
                    self.operator_home, "org", "create", self.organisation, "--kind", "hospital"
                )
            except SystemExit as exc:
                if "organisation-exists" not in str(exc):
                    raise
                raise SystemExit(
                    f"the KGC has an organisation {self.organisation!r} but {self.home} does "
                    "not hold its gateway: `make reset` for a fresh stack, or PHR_GATEWAY=0"
                ) from None
            write_private(org_file, json.dumps(org))
        org_id = str(json.loads(org_file.read_text())["organisation_id"])
        user = self.phr(
            self.home, "enrol", "--name", f"{self.organisation} gateway", "--role", "system",
            "--org", org_id,
        )  # fmt: skip
        user_id = str(user["user_id"])
        if user.get("status") == "pending":
            self.phr(self.operator_home, "approve", user_id)
        identity = {"user_id": user_id, "organisation_id": org_id}
        write_private(done, json.dumps(identity))
        return user_id

    def start(self) -> str:
        """Set up (once) and start the gateway; wait until it answers. Its user id."""
        user_id = self.ensure_identity()
        argv = [sys.executable, "-m", "phr.cli", "--passphrase-file", str(self._passphrase_file)]
        argv += ["gateway", "--home", str(self.home), "--port", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
        self.procs.spawn(NAME, argv, env=env | {"PHR_KGC_URL": self.kgc_url})
        wait(f"{NAME} {self.url}/metadata", self.ready, 60, on_fail=lambda: self.procs.tail(NAME))
        return user_id

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/metadata", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        self.procs.stop(NAME)
