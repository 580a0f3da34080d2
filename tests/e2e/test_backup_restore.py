"""Back up the running one-machine stack, restore it into a fresh data directory, and use it.

The backup is taken the way an operator takes it (``python -m deploy.local backup DIR``,
which runs ``phr admin backup`` with the stack's addresses) while the session's stack
keeps running; the restore goes into a stack of its own (other ports, an empty data
directory). There the patient's ``phr ledger verify`` and ``phr audit`` and the doctor's
``phr fetch`` succeed, against the same keys and the same chain.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Phr
from tests.support.identity import operator_file
from tests.support.stack import fresh_stack
from tests.support.waiting import wait_sync

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "shared/tests/data/synthea_r4_seed42.json.gz"
#: the restored stack's ports and data dir, apart from the session's
RESTORE_OFFSET = 125


def stack_cli(
    verb: str, directory: Path, extra_offset: int = 0
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PHR_PORT_OFFSET"] = str(int(env.get("PHR_PORT_OFFSET", "0")) + extra_offset)
    argv = [sys.executable, "-m", "deploy.local", verb, str(directory), "--profile", "test"]
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=400)


@pytest.fixture
def restored() -> Iterator[Any]:
    with fresh_stack(RESTORE_OFFSET, start=False) as s:
        yield s


def test_backup_restore_then_verify_audit_and_fetch(
    stack: Any, restored: Any, tmp_path: Path
) -> None:
    phr = Phr(kgc_url=stack.service_url(stack.spec("kgc")))
    op = operator_file(stack).parent
    org = phr.json(
        "org", "create", f"Backup Hospital {tmp_path.name}", "--kind", "hospital", home=op
    )
    doc, pat = tmp_path / "doc", tmp_path / "pat"
    doctor = phr.json(
        "enrol", "--name", "Doc", "--role", "doctor", "--org", org["organisation_id"], home=doc
    )
    if doctor["status"] == "pending":
        phr.json("approve", doctor["user_id"], home=op)
    patient = phr.json("enrol", "--name", "Pat", "--role", "patient", home=pat)["user_id"]
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    record = phr.json("upload", str(bundle), home=pat)["record_id"]
    phr.json("grant", "--user", doctor["user_id"], "--segments", "labs", home=pat)
    before = tmp_path / "before.json"
    phr.run(
        "fetch", record, "--patient", patient, "--segments", "labs", "-o", str(before), home=doc
    )

    backup = tmp_path / "backup"
    done = stack_cli("backup", backup)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["objects"] > 0 and manifest["events"] > 0
    assert manifest["collections"]["phr_owner_api.records"] >= 1
    assert (backup / "secrets" / "srs-1.x25519").read_text() == stack.x25519_key_file(
        "srs-1"
    ).read_text()
    # a backup refuses to overwrite, a restore refuses a deployment that holds data
    assert stack_cli("backup", backup).returncode != 0
    tampered = tmp_path / "tampered"
    subprocess.run(["cp", "-a", str(backup), str(tampered)], check=True)
    victim = next(p for p in (tampered / "s3").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1] + b"?")
    refused = stack_cli("restore", tampered, RESTORE_OFFSET)
    assert refused.returncode != 0 and "altered" in refused.stderr, refused.stderr

    done = stack_cli("restore", backup, RESTORE_OFFSET)
    assert done.returncode == 0, done.stdout + done.stderr
    assert restored.base != stack.base
    assert restored.signing_key_file("kgc").read_text() == stack.signing_key_file("kgc").read_text()

    there = Phr(kgc_url=restored.service_url(restored.spec("kgc")))
    verified = there.json("ledger", "verify", home=pat)
    assert verified["ok"] is True and verified["log_size"] > 0
    wanted = {"record.uploaded", "acl.granted", "access.decided"}

    def audited() -> bool:
        # events the ledger had not sealed at the snapshot come back from the event dump
        trail = there.json("audit", home=pat)
        return bool(trail["all_verified"]) and wanted <= {e["type"] for e in trail["entries"]}

    wait_sync(audited, timeout=60, interval=1)
    after = tmp_path / "after.json"
    there.run(
        "fetch", record, "--patient", patient, "--segments", "labs", "-o", str(after), home=doc
    )
    assert json.loads(after.read_text())["entry"] == json.loads(before.read_text())["entry"]
    # the restored deployment refuses a second restore on top of its data
    again = stack_cli("restore", backup, RESTORE_OFFSET)
    assert again.returncode != 0 and "fresh" in again.stderr, again.stderr
