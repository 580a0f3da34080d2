"""A fresh deployment from a capture, in one command (`make from-capture`).

    python -m deploy.local from-capture CAPTURE --secrets DIR --trust-capture [--operator FILE]

1. Checks the capture verifies on its own (`phr events verify`) and that the key files
   in DIR (the source's secrets: `phr admin backup` copies them to ``<backup>/secrets``)
   are exactly the producers' keys the capture's signed parameters publish: the new
   deployment then trusts the capture's producers, and its ledger, holding the source
   ledger's key, signs the same blocks. ``--trust-capture`` accepts the parameters in
   the capture's header as they are; ``--kgc-key KEY`` pins the KGC key they must name.
2. Refuses a stack whose services run (the replay must come before they start, so the
   ledger reads the stream in the capture's order); the replay itself refuses topics
   that hold records.
3. Starts the servers only, replays the capture (`phr events replay`), starts the
   services, waits until the ledger reached the capture's source checkpoint and prints
   `phr events report` and what events cannot rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from deploy.keys import public_b64
from deploy.local.processes import say
from deploy.local.profiles import ROOT
from deploy.local.stack import Stack

#: how long the ledger may take to reach the capture's checkpoint once its services run
CATCH_UP_S = 600


def _phr(*args: str) -> Any:
    """Run `phr --json ARGS` as a tester would; its JSON answer (SystemExit if it fails)."""
    argv = [sys.executable, "-m", "phr.cli", "--json", *args]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phr {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout}")
    return json.loads(done.stdout)


def _capture_header(capture: Path) -> dict[str, Any]:
    with capture.open(encoding="utf-8") as fh:
        header: dict[str, Any] = json.loads(fh.readline())
    return header


def _published_keys(params: dict[str, Any]) -> dict[str, str]:
    """name -> Ed25519 public key of every producer the signed parameters publish."""
    body = params.get("params", params)
    keys = {name: entry["ed25519_public"] for name, entry in body.get("services", {}).items()}
    keys["kgc"] = body["kgc"]["ed25519_public"]
    for node in body.get("srs", {}).get("nodes", []):
        keys[node["id"]] = node["ed25519_public"]
    return keys


def _secret_keys(secrets: Path) -> dict[str, str]:
    """key name -> Ed25519 public key of every ``*.ed25519`` seed in ``secrets``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = {}
    for path in sorted(secrets.glob("*.ed25519")):
        seed = bytes.fromhex(path.read_text().strip())
        out[path.stem] = public_b64(Ed25519PrivateKey.from_private_bytes(seed))
    return out


def check_keys(stack: Stack, params: dict[str, Any], secrets: Path) -> None:
    """SystemExit unless ``secrets`` holds exactly the keys the capture's producers used."""
    published = _published_keys(params)
    held = _secret_keys(secrets)
    wrong = []
    for spec in stack.services:
        name, key_name = spec.name, spec.key_name or spec.name
        if name not in published:
            continue
        if held.get(key_name) != published[name]:
            wrong.append(name)
    if wrong:
        raise SystemExit(
            f"the keys in {secrets} are not the capture's producers' keys ({', '.join(wrong)}):"
            " give the source deployment's secrets (`phr admin backup` puts them in"
            " <backup>/secrets)"
        )


def _ledger_size(url: str) -> int:
    with urllib.request.urlopen(f"{url}/v1/checkpoint", timeout=5) as resp:
        note = resp.read().decode()
    return int(note.splitlines()[1])


def from_capture(
    stack: Stack,
    capture: Path,
    secrets: Path,
    *,
    trust_capture: bool,
    kgc_key: str | None = None,
    operator: Path | None = None,
) -> dict[str, Any]:
    """Bring ``stack`` up empty, trusting the capture's producers, and replay into it."""
    if not trust_capture and kgc_key is None:
        raise SystemExit(
            "say whom to trust: --trust-capture (the keys in the capture's header) or"
            " --kgc-key KEY (the KGC key its parameters must name)"
        )
    pin = ["--kgc-key", kgc_key] if kgc_key else []
    verified = _phr("events", "verify", str(capture), *pin)
    header = _capture_header(capture)
    if not header.get("params"):
        raise SystemExit(f"{capture} carries no system parameters: capture it with --kgc")
    check_keys(stack, header["params"], secrets)
    running = [s.name for s in stack.services if stack.pid(s.name)]
    if running:
        raise SystemExit(
            f"services of this stack run ({', '.join(running)}): a replay goes into an empty"
            " deployment before its services start; `python -m deploy.local reset` first"
        )
    stack.secrets_dir.mkdir(parents=True, exist_ok=True)
    for path in [*secrets.glob("*.ed25519"), *secrets.glob("*.x25519")]:
        target = stack.secrets_dir / path.name
        target.write_text(path.read_text())
        os.chmod(target, 0o600)
    if operator is not None:
        stack.operator_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(operator, stack.operator_file)
        os.chmod(stack.operator_file, 0o600)
    say("servers (empty)")
    stack.up(services=False)
    replayed = _phr("events", "replay", str(capture), "--bootstrap", stack.kafka_bootstrap, *pin)
    say(f"replayed {replayed['records']} records; starting the services")
    stack.up()
    ledger = stack.service_url(stack.spec("ledger"))
    want = int(header["checkpoint"].splitlines()[1]) if header.get("checkpoint") else 0
    deadline = time.monotonic() + CATCH_UP_S
    while _ledger_size(ledger) < want:
        if time.monotonic() > deadline:
            raise SystemExit(f"the ledger did not reach size {want} in {CATCH_UP_S} s")
        time.sleep(1.0)
    report = _phr(
        "events", "report", str(capture), "--bootstrap", stack.kafka_bootstrap, "--ledger", ledger
    )
    return {
        "verified": verified["records"],
        "replayed": replayed["records"],
        "report": report,
        "not_rebuilt": replayed["not_rebuilt"],
        "target": {"kafka": stack.kafka_bootstrap, "ledger": ledger},
    }
