"""Each service's OpenAPI document against the running service, with the ecosystem's tools.

- schemathesis, bounded (a fixed number of examples per operation): no server error,
  and no status the spec does not list for the operation;
- openapi-python-client generates a client from each spec, and that client calls the
  service: every operation without path parameters, its answer's status in the spec.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from phr.identity.tokens import TokenSigner
from tests.support.identity import load_operator, service_url
from tests.support.records import kgc_client, new_patient
from tests.support.sharing import key_of
from tests.support.stack import stack_module

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
#: one process per service kind (srs-2, srs-3 and ledger-2 run the same code)
SERVICES = ("kgc", "owner-api", "user-api", "srs-1", "ledger", "cloud-store")


async def _tokens(stack: Any) -> dict[str, str]:
    """A token each service accepts: a patient's, the operator's, a service's."""
    patient = await new_patient(stack)
    async with httpx.AsyncClient(timeout=15) as http:
        admin = await (await kgc_client(stack, http)).login(load_operator(stack))
    service = TokenSigner(key_of(stack, "owner-api"), "owner-api").mint_service()
    return {
        "kgc": admin,
        "owner-api": patient.token,
        "user-api": patient.token,
        "srs-1": service,
        "ledger": patient.token,
        "cloud-store": service,
    }


@pytest.fixture(scope="module")
async def tokens(stack: Any) -> dict[str, str]:
    return await _tokens(stack)


@pytest.mark.parametrize("name", SERVICES)
def test_schemathesis_finds_no_server_error_and_no_unlisted_status(
    stack: Any, tokens: dict[str, str], name: str, tmp_path: Path
) -> None:
    url = service_url(stack, name)
    run = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "8",
            "--seed",
            "19",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--suppress-health-check",
            "all",
            "--header",
            f"Authorization: Bearer {tokens[name]}",
            "--header",
            f"X-Correlation-ID: schemathesis-{name}",
            "--exclude-path",
            "/metrics",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def _generate(spec: dict[str, Any], where: Path) -> Path:
    (where / "spec.json").write_text(json.dumps(spec))
    (where / "config.json").write_text(json.dumps({"post_hooks": []}))
    subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            "spec.json",
            "--config",
            "config.json",
            "--meta",
            "none",
            "--output-path",
            "client",
        ],
        cwd=where,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return where / "client"


@pytest.mark.parametrize("name", SERVICES)
def test_a_client_generated_from_the_spec_calls_the_service(
    stack: Any, tokens: dict[str, str], name: str, tmp_path: Path
) -> None:
    url = service_url(stack, name)
    spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
    listed = {
        op["operationId"]: set(op["responses"])
        for item in spec["paths"].values()
        for op in item.values()
    }
    package = f"generated_{name.replace('-', '_')}"
    root = _generate(spec, tmp_path)
    (tmp_path / package).symlink_to(root)
    sys.path.insert(0, str(tmp_path))
    try:
        client_mod = importlib.import_module(f"{package}.client")
        client = client_mod.AuthenticatedClient(base_url=url, token=tokens[name], timeout=20)
        api = importlib.import_module(f"{package}.api")
        called = []
        for info in pkgutil.walk_packages(api.__path__, f"{package}.api."):
            module = importlib.import_module(info.name)
            sync = getattr(module, "sync_detailed", None)
            if sync is None:
                continue
            params = inspect.signature(sync).parameters
            required = [
                p
                for p, v in params.items()
                if v.default is inspect.Parameter.empty and p != "client"
            ]
            if required:
                continue  # needs ids or a body: schemathesis covers those
            response = sync(client=client)
            op = info.name.rsplit(".", 1)[1]
            assert str(int(response.status_code)) in listed[op], (op, response.status_code)
            called.append(op)
        assert "healthz" in called and len(called) >= 3, called
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m.startswith(package)]:
            del sys.modules[mod]


def test_operation_ids_and_descriptions(stack: Any) -> None:
    for spec_ in stack_module().SERVICES:
        spec = httpx.get(str(stack.service_url(spec_)) + "/openapi.json", timeout=10).json()
        assert spec["servers"]
        assert "bearer" in json.dumps(spec["components"]["securitySchemes"]).lower()
        for path, item in spec["paths"].items():
            for method, op in item.items():
                where = (spec_.name, method, path)
                assert op["operationId"].isidentifier(), where
                assert op["description"], where
                assert "500" in op["responses"], where
