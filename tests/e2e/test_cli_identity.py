"""The `phr` command for identities and records, driven as a subprocess."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Phr, assert_clean_failure
from tests.support.identity import operator_file, service_url

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[2] / "shared/tests/data/synthea_r4_seed42.json.gz"


@pytest.fixture(scope="module")
def phr(stack: Any) -> Phr:
    return Phr(kgc_url=service_url(stack, "kgc"), kafka=stack.kafka_bootstrap)


@pytest.fixture(scope="module")
def operator_home(stack: Any) -> Path:
    return operator_file(stack).parent


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fhir") / "bundle.json"
    path.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    return path


def test_operator_whoami(phr: Phr, operator_home: Path) -> None:
    out = phr.json("whoami", home=operator_home)
    assert out["role"] == "admin" and out["status"] == "active"
    human = phr.run("whoami", home=operator_home).stdout
    assert out["user_id"] in human and "admin" in human


def test_enrol_upload_list_delete(phr: Phr, tmp_path: Path, bundle_file: Path) -> None:
    home = tmp_path / "alice"
    out = phr.json("enrol", "--name", "Alice", "--role", "patient", home=home)
    assert out["status"] == "active" and out["user_id"]
    assert stat.S_IMODE(os.stat(home / "keystore.json").st_mode) == 0o600
    assert "Alice" in json.loads((home / "profile.json").read_text())["name"]
    # the keystore holds no plaintext key material
    exported = phr.json("keys", "export", "--public", home=home)
    assert exported["user_id"] == out["user_id"]

    record = phr.json("upload", str(bundle_file), home=home)
    assert record["status"] == "committed"
    names = {s["name"] for s in record["segments"]}
    assert {"labs", "conditions", "insurance"} <= names
    listed = phr.json("records", home=home)
    assert [r["record_id"] for r in listed] == [record["record_id"]]
    assert "committed" in phr.run("records", home=home).stdout

    gone = phr.json("delete", record["record_id"], home=home)
    assert gone["status"] == "deleted"


def test_org_staff_approval_and_tracing(phr: Phr, operator_home: Path, tmp_path: Path) -> None:
    org = phr.json("org", "create", "St Mary", "--kind", "hospital", home=operator_home)
    doctor_home = tmp_path / "doctor"
    enrolled = phr.json(
        "enrol",
        "--name",
        "Dr Who",
        "--role",
        "doctor",
        "--org",
        org["organisation_id"],
        home=doctor_home,
    )
    assert enrolled["status"] == "pending"
    pending = phr.run("whoami", home=doctor_home, check=False)
    assert_clean_failure(pending)
    phr.json("approve", enrolled["user_id"], home=operator_home)
    assert phr.json("whoami", home=doctor_home)["status"] == "active"

    leaked = tmp_path / "leaked.json"
    proc = phr.run("keys", "export", "--secret", "-o", str(leaked), home=doctor_home)
    assert "WARNING" in proc.stderr
    assert stat.S_IMODE(os.stat(leaked).st_mode) == 0o600
    traced = phr.json("trace", str(leaked), home=operator_home)
    assert traced["user_id"] == enrolled["user_id"] and traced["revoked"] is True
    assert_clean_failure(phr.run("whoami", home=doctor_home, check=False))


def test_error_paths_are_one_clean_line(
    phr: Phr, tmp_path: Path, operator_home: Path, bundle_file: Path
) -> None:
    home = tmp_path / "bob"
    phr.json("enrol", "--name", "Bob", "--role", "patient", home=home)
    # wrong passphrase
    proc = phr.run("records", home=home, env={"PHR_PASSPHRASE": "wrong"}, check=False)
    assert_clean_failure(proc, "passphrase")
    # system not running
    down = Phr(kgc_url="http://127.0.0.1:9")
    assert_clean_failure(down.run("whoami", home=home, check=False), "system running")
    # no identity
    assert_clean_failure(phr.run("whoami", home=tmp_path / "nobody", check=False), "enrol")
    # unknown user
    proc = phr.run("approve", "u_nobody", home=operator_home, check=False)
    assert_clean_failure(proc, "404")
    # no permission: a patient creates an organisation
    proc = phr.run("org", "create", "X", "--kind", "lab", home=home, check=False)
    assert_clean_failure(proc, "403")
    # bad FHIR
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {"resource": {"resourceType": "Observation", "status": "nonsense-status"}}
                ],
            }
        )
    )
    assert_clean_failure(phr.run("upload", str(bad), home=home, check=False), "fhir")
    notjson = tmp_path / "x.json"
    notjson.write_text("{not json")
    assert_clean_failure(phr.run("upload", str(notjson), home=home, check=False), "json")
    missing = phr.run("upload", str(tmp_path / "missing.json"), home=home, check=False)
    assert_clean_failure(missing)
    # enrolling twice into the same home
    again = phr.run("enrol", "--name", "Bob", "--role", "patient", home=home, check=False)
    assert_clean_failure(again, "already")


def test_every_command_has_help_with_an_example(phr: Phr) -> None:
    top = phr.run("--help").stdout
    commands = ["enrol", "whoami", "approve", "trace", "upload", "records", "delete"]
    for command in commands:
        assert command in top
        assert "Example:" in phr.run(command, "--help").stdout, command
    for group, sub in (("keys", "export"), ("org", "create")):
        assert "Example:" in phr.run(group, sub, "--help").stdout
