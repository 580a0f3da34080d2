"""The demo hospital's gateway for `make run` (and `make down`): set up once, then started.

    python -m phr.gateway.demo up      # port 8080 + PHR_PORT_OFFSET; prints the URL
    python -m phr.gateway.demo down

The first `up` creates the organisation "Demo Hospital" with the operator's identity
(``.local/operator``), enrols its ``system`` identity into ``.local/gateway/home`` (a
random passphrase in ``.local/gateway/passphrase``, 0600), approves it, and registers one
client system ``demo-ehr`` (private key ``.local/gateway/demo-ehr.jwk``) with every scope
the gateway serves. Later runs reuse all of it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from phr.cli.home import Home
from phr.cli.identity import create_identity
from phr.cli.session import Session
from phr.gateway.assertion import new_client_key, public_jwks
from phr.gateway.smart import SUPPORTED_SCOPES, ClientRegistration, ClientRegistry

BASE = Path(".local/gateway")
OPERATOR = Path(".local/operator")


def port() -> int:
    return 8080 + int(os.environ.get("PHR_PORT_OFFSET", "0"))


def _passphrase_file() -> Path:
    path = BASE / "passphrase"
    if not path.exists():
        BASE.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path


async def _set_up(home: Path, phrase: Path) -> None:
    operator = Session(home=Home(OPERATOR))
    if not operator.home.exists():
        raise SystemExit(f"no operator identity in {OPERATOR}: start the stack first")
    async with operator.kgc() as kgc:
        token = await operator.token("kgc")
        tag = secrets.token_hex(2)  # organisation names are unique
        org = (await kgc.create_org(token, f"Demo Hospital {tag}", "hospital"))["organisation_id"]
    session = Session(home=Home(home), passphrase_file=phrase, kgc_url_option=operator.kgc_url)
    out = await create_identity(
        session, name="demo gateway", role="system", org=org, department=None
    )
    async with operator.kgc() as kgc:
        await kgc.approve(await operator.token("kgc"), out["user_id"])


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def up() -> None:
    home, phrase, pid_file = BASE / "home", _passphrase_file(), BASE / "gateway.pid"
    if not (home / "profile.json").exists():
        asyncio.run(_set_up(home, phrase))
    key_file = BASE / "demo-ehr.jwk"
    if not key_file.exists():
        import json

        key = new_client_key("ES384")
        ClientRegistry(home / "clients.json").register(
            ClientRegistration(
                client_id="demo-ehr", jwks=public_jwks(key), scopes=list(SUPPORTED_SCOPES)
            )
        )
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(key, fh)
    url = f"http://127.0.0.1:{port()}"
    if _alive(pid_file) is None:
        log_dir = Path(".local/logs")
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / "gateway.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "phr.cli", "--passphrase-file", str(phrase), "gateway"]
                + ["--home", str(home), "--port", str(port())],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/fhir/metadata", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        "the demo gateway did not start: see .local/logs/gateway.log"
                    ) from None
                time.sleep(0.5)
    sys.stdout.write(
        f"gateway      {url}/fhir   (FHIR R4; SMART client demo-ehr, key {key_file})\n"
    )


def down() -> None:
    pid_file = BASE / "gateway.pid"
    pid = _alive(pid_file)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
    pid_file.unlink(missing_ok=True)


if __name__ == "__main__":
    {"up": up, "down": down}[sys.argv[1] if len(sys.argv) > 1 else "up"]()
