"""Run the `phr` command as a person would: a subprocess, with its own PHR_HOME."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSPHRASE = "correct horse battery staple"


@dataclass
class Phr:
    """`phr` bound to a system (KGC URL) and a passphrase; each call names its home."""

    kgc_url: str
    kafka: str | None = None
    passphrase: str | None = PASSPHRASE

    def run(
        self,
        *args: str,
        home: Path | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        # the test session's OTEL_* too: a command traces only when a test asks (env=)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PHR_", "OTEL_"))}
        full_env["PHR_KGC_URL"] = self.kgc_url
        full_env["COLUMNS"] = "200"
        if self.kafka:
            full_env["PHR_KAFKA"] = self.kafka
        if self.passphrase is not None:
            full_env["PHR_PASSPHRASE"] = self.passphrase
        if home is not None:
            full_env["PHR_HOME"] = str(home)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "phr.cli", *args],
            env=full_env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"phr {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def json(self, *args: str, home: Path | None = None, **kw: Any) -> Any:
        """``phr ARGS --json``: the global option after the subcommand, as people write it."""
        proc = self.run(*args, "--json", home=home, **kw)
        return json.loads(proc.stdout)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """Non-zero, one line on stderr naming the problem, no traceback."""
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert err.startswith("error:") or "Error" in err or "Usage" in err, err
    lowered = err.lower()
    for word in words:
        assert word.lower() in lowered, (word, err)


@dataclass
class SharedLabs:
    """A hospital's approved doctor who may read a patient's labs, set up with `phr`."""

    operator: Path
    org_id: str
    doctor: Path
    doctor_id: str
    patient: Path
    patient_id: str
    record_id: str
    grant_id: str


def share_labs(phr: Phr, operator: Path, root: Path, bundle: bytes) -> SharedLabs:
    """Operator makes a hospital, a doctor enrols (approved), a patient uploads ``bundle``
    and grants the doctor his labs; returns once the doctor's `phr fetch` works (every
    SRS node has the grant)."""
    name = f"Hospital {root.name} {secrets.token_hex(3)}"  # unique on a stack kept running
    org = phr.json("org", "create", name, "--kind", "hospital", home=operator)
    doc = root / "doctor"
    doctor = phr.json(
        "enrol", "--name", "Doc", "--role", "doctor", "--org", org["organisation_id"], home=doc
    )
    if doctor["status"] == "pending":
        phr.json("approve", doctor["user_id"], home=operator)
    pat = root / "pat"
    pid = phr.json("enrol", "--name", "Pat", "--role", "patient", home=pat)["user_id"]
    (root / "bundle.json").write_bytes(bundle)
    rid = phr.json("upload", str(root / "bundle.json"), home=pat)["record_id"]
    grant = phr.json("grant", "--user", doctor["user_id"], "--segments", "labs", home=pat)
    deadline = time.monotonic() + 60
    while phr.run("fetch", rid, "--segments", "labs", "--json", home=doc, check=False).returncode:
        if time.monotonic() > deadline:
            raise AssertionError("the doctor never read the labs granted to him")
        time.sleep(1)
    return SharedLabs(
        operator, org["organisation_id"], doc, doctor["user_id"], pat, pid, rid, grant["grant_id"]
    )
