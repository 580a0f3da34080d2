"""`make run`'s demo hospital gateway (deploy/local/gateway.py), set up against the test
stack in a directory of its own, on a port of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from deploy.local.gateway import DemoGateway
from deploy.local.processes import Processes
from tests.support.gateway import free_port
from tests.support.identity import operator_file


def test_the_demo_hospitals_gateway_is_set_up_once_and_serves_fhir(
    stack: Any, tmp_path: Path
) -> None:
    procs = Processes(tmp_path / "run", tmp_path / "logs")
    kgc = stack.public_url(stack.spec("kgc"))
    gateway = DemoGateway(
        tmp_path,
        procs,
        kgc,
        operator_file(stack).parent,
        port=free_port(),
        organisation=f"Demo Hospital {tmp_path.name}",
    )
    try:
        user_id = gateway.start()
        pid = procs.pid("gateway")
        # a second `make run` reuses the identity and the running process
        assert gateway.start() == user_id and procs.pid("gateway") == pid
        meta = httpx.get(f"{gateway.url}/metadata", timeout=10)
        assert meta.status_code == 200
        assert meta.json()["resourceType"] == "CapabilityStatement"
        assert meta.json()["fhirVersion"] == "4.0.1"
        # an approved system identity of the Demo Hospital, its secrets private
        me = gateway.phr(gateway.home, "whoami")
        saved = json.loads((gateway.home / "identity.json").read_text())
        assert me["user_id"] == user_id == saved["user_id"]
        assert (me["role"], me["status"]) == ("system", "active")
        assert me["organisation_id"] == saved["organisation_id"]
        assert me["name"] == f"Demo Hospital {tmp_path.name} gateway"
        for name in ("passphrase", "keystore.json", "identity.json"):
            assert (gateway.home / name).stat().st_mode & 0o077 == 0, name
    finally:
        gateway.stop()
    assert procs.pid("gateway") is None and not gateway.ready()
