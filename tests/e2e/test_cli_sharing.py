"""The `phr` command for sharing, access, break-glass, audit and the demo (subprocesses)."""

from __future__ import annotations

import gzip
import json
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
def people(phr: Phr, stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A patient with one uploaded record, an approved doctor and nurse, an insurer."""
    root = tmp_path_factory.mktemp("people")
    op = operator_file(stack).parent
    org = phr.json("org", "create", f"CLI Hospital {root.name}", "--kind", "hospital", home=op)
    ins = phr.json("org", "create", f"CLI Insurer {root.name}", "--kind", "insurer", home=op)
    out: dict[str, Any] = {"org": org["organisation_id"], "root": root}
    for name, role, org_id in (
        ("doctor", "doctor", org["organisation_id"]),
        ("nurse", "nurse", org["organisation_id"]),
        ("insurer", "insurer", ins["organisation_id"]),
        ("caregiver", "caregiver", None),
    ):
        args = ["enrol", "--name", name, "--role", role]
        if org_id:
            args += ["--org", org_id]
        user = phr.json(*args, home=root / name)
        if user["status"] == "pending":
            phr.json("approve", user["user_id"], home=op)
        out[name] = user["user_id"]
    out["patient"] = phr.json("enrol", "--name", "Pat", "--role", "patient", home=root / "pat")[
        "user_id"
    ]
    bundle = root / "bundle.json"
    bundle.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    out["record"] = phr.json("upload", str(bundle), home=root / "pat")["record_id"]
    return out


def types_in(path: Path) -> set[str]:
    bundle = json.loads(path.read_text())
    return {e["resource"]["resourceType"] for e in bundle.get("entry", [])}


def test_grant_fetch_search_revoke_audit(phr: Phr, people: dict[str, Any], tmp_path: Path) -> None:
    root, pid, rid = people["root"], people["patient"], people["record"]
    pat, doc = root / "pat", root / "doctor"
    grant = phr.json(
        "grant",
        "--user",
        people["doctor"],
        "--segments",
        "labs,conditions",
        "--purpose",
        "treatment",
        "--until",
        "2099-01-01",
        home=pat,
    )
    listed = phr.json("grants", home=pat)
    assert grant["grant_id"] in [g["grant_id"] for g in listed]
    assert grant["grant_id"] in phr.run("grants", home=pat).stdout

    out = tmp_path / "doctor.json"
    # as the README writes it: the patient is found from the record id
    phr.run("fetch", rid, "-o", str(out), home=doc)
    assert {"Observation", "Condition"} <= types_in(out)
    assert not {"Coverage", "Claim", "Patient"} & types_in(out)

    found = phr.json("search", "--patient", pid, "--code", "http://loinc.org|8867-4", home=doc)
    assert {(m["record_id"], m["segment"]) for m in found} == {(rid, "labs")}
    assert phr.json("search", "--patient", pid, "--word", "heart", home=doc)
    nothing = phr.json("search", "--patient", pid, "--code", "http://loinc.org|0000-0", home=doc)
    assert nothing == []

    denied = phr.run(
        "fetch", rid, "--patient", pid, "--segments", "insurance", home=doc, check=False
    )
    assert_clean_failure(denied, "insurance")

    phr.json("revoke", grant["grant_id"], home=pat)
    assert_clean_failure(
        phr.run("fetch", rid, "--patient", pid, "--segments", "labs", home=doc, check=False),
        "revoked",
    )
    trail = phr.json("audit", home=pat)
    assert trail["all_verified"] is True
    kinds = {e["type"] for e in trail["entries"]}
    assert {"record.uploaded", "acl.granted", "access.decided", "acl.revoked"} <= kinds
    assert "verified" in phr.run("audit", home=pat).stdout
    # a data user may not read the patient's audit trail
    assert_clean_failure(phr.run("audit", "--patient", pid, home=doc, check=False), "403")
    # the chain from the public leaf hashes, and the patient's own events proven in it
    verified = phr.json("ledger", "verify", home=pat)
    assert verified["ok"] is True and verified["log_size"] > 0
    assert verified["own_events_verified"] == len(trail["entries"])


def test_group_grant_reaches_a_nurse(phr: Phr, people: dict[str, Any], tmp_path: Path) -> None:
    root, pid, rid = people["root"], people["patient"], people["record"]
    phr.json(
        "grant",
        "--group",
        f"role=nurse,org={people['org']}",
        "--segments",
        "conditions",
        home=root / "pat",
    )
    out = tmp_path / "nurse.json"
    phr.run("fetch", rid, "--patient", pid, "-o", str(out), home=root / "nurse")
    assert "Condition" in types_in(out) and "Observation" not in types_in(out)
    insurer = phr.run("fetch", rid, "--patient", pid, home=people["root"] / "insurer", check=False)
    assert_clean_failure(insurer)


def test_breakglass_needs_a_reason(phr: Phr, people: dict[str, Any], tmp_path: Path) -> None:
    root, pid = people["root"], people["patient"]
    phr.json("emergency-segments", "medications,conditions", home=root / "pat")
    no_reason = phr.run(
        "breakglass", "--patient", pid, "--reason", " ", home=root / "doctor", check=False
    )
    assert_clean_failure(no_reason, "reason")
    out = tmp_path / "er.json"
    phr.run(
        "breakglass",
        "--patient",
        pid,
        "--reason",
        "unconscious in the ER",
        "-o",
        str(out),
        home=root / "doctor",
    )
    assert "MedicationRequest" in types_in(out) or "Condition" in types_in(out)
    trail = phr.json("audit", home=root / "pat")
    assert any(e["type"] == "access.breakglass" and e["review"] for e in trail["entries"])


def test_delegate_and_rotate(phr: Phr, people: dict[str, Any]) -> None:
    root, pid = people["root"], people["patient"]
    phr.json("delegate", "--to", people["caregiver"], "--segments", "labs", home=root / "pat")
    by_caregiver = phr.json(
        "grant",
        "--user",
        people["insurer"],
        "--segments",
        "labs",
        "--patient",
        pid,
        home=root / "caregiver",
    )
    listed = {g["grant_id"]: g for g in phr.json("grants", home=root / "pat")}
    assert listed[by_caregiver["grant_id"]]["on_behalf_of"] == pid
    assert listed[by_caregiver["grant_id"]]["granted_by"] == people["caregiver"]
    out_of_scope = phr.run(
        "grant",
        "--user",
        people["insurer"],
        "--segments",
        "notes",
        "--patient",
        pid,
        home=root / "caregiver",
        check=False,
    )
    assert_clean_failure(out_of_scope)
    versions = phr.json("rotate", "--segments", "notes", home=root / "pat")
    assert versions["notes"] >= 2


def test_events_dump_has_every_topic(phr: Phr, tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson"
    phr.run("events", "dump", "-o", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    topics = {x["topic"] for x in lines if x.get("kind") == "record"}
    assert {"phr.users", "phr.records", "phr.acl", "phr.access"} <= topics


def test_demo_tells_the_whole_story(phr: Phr, stack: Any) -> None:
    proc = phr.run("demo", "--operator-home", str(operator_file(stack).parent), timeout=300)
    text = proc.stdout
    for phrase in (
        "fetches the record",
        "denied by every SRS node",
        "revokes the doctor",
        "all verified: True",
    ):
        assert phrase in text, text[-2000:]
