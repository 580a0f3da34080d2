"""Each service's OpenAPI document against the running service, with the ecosystem's tools.

- openapi-python-client generates a client from each service's ``/openapi.json``, and
  that client calls every operation of the running service (path and required query
  parameters from :class:`Caller`, bodies from the document's own examples) with a real
  token. The client is told to raise on a status its spec does not list, and each
  answer must parse into the type the spec gives it.
- Every operation is sent a set of requests (tests/support/openapi_probes.py: happy,
  unauthenticated, unknown id, bad parameter, bad body, malformed JSON, wrong media
  type, too large); each answer's status must be one the operation lists, and its JSON
  body valid by the schema listed for that status and media type.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from phr.identity.tokens import TokenSigner
from tests.support.identity import KgcClient, bearer, load_operator, service_url
from tests.support.openapi import Operation, answer_mismatch, json_body_example, operations
from tests.support.openapi_probes import BLOB, probes, python_name
from tests.support.sharing import key_of

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
#: one process of each service (srs-2, srs-3 and ledger-2 run the same code)
SERVICES = ("kgc", "owner-api", "user-api", "srs-1", "ledger", "cloud-store")


@dataclass
class Caller:
    """Who calls a service in these tests, and the values of its parameters."""

    token: str
    #: parameter name (as the spec spells it) -> value
    values: dict[str, Any]
    #: operations that must succeed (2xx) for this caller with these values
    must_succeed: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
async def callers(stack: Any, kgc: KgcClient) -> dict[str, Caller]:
    """The KGC called by the operator (about a spare patient of his own), the others by
    a patient about himself, cloud-store (services only) by owner-api's service token."""
    admin = await kgc.login(load_operator(stack))
    patient = await kgc.enrol("patient")
    spare = await kgc.enrol("patient")  # the operator approves and revokes this one
    token = await kgc.login(patient)
    org = await kgc.create_org(admin, f"Conformance {patient.user_id[-8:]}", "hospital")
    r = await kgc.http.post(
        f"{kgc.url}/v1/groups",
        json={"selector": {"role": "doctor", "org": org}},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text
    me, record = patient.user_id, "r_conformance"
    service = TokenSigner(key_of(stack, "owner-api"), "owner-api").mint_service(
        "cloud-store", ttl_s=600
    )
    common = {"healthz", "readyz", "whoami", "metrics"}
    return {
        "kgc": Caller(
            admin,
            {"user_id": spare.user_id, "org_id": org, "group_id": r.json()["group_id"]},
            common | {"get_params", "list_orgs", "get_org", "find_users", "get_user"},
        ),
        "owner-api": Caller(
            token,
            {
                "patient_id": me,
                "upload_id": "up_conformance",
                "record_id": record,
                "segment": "labs",
                "org_id": org,
                "grant_id": "g_conformance",
                "delegate_user_id": spare.user_id,
            },
            common | {"list_records", "list_grants", "get_keys", "list_contributors"},
        ),
        "user-api": Caller(token, {"patient_id": me}, common | {"breakglass"}),
        "srs-1": Caller(token, {"patient_id": me}, common | {"node_info", "list_grants"}),
        "ledger": Caller(
            token,
            {
                "height": 0,
                "event_id": "3f7c1a2e-9b4d-4e8a-a6f1-2c3d4e5f6a7b",
                "subject": me,
                "first": 0,
            },
            common | {"get_key", "get_checkpoint", "get_head", "list_blocks", "get_audit_trail"},
        ),
        "cloud-store": Caller(
            service,
            {
                "key": f"{me}/{record}/labs/v1",
                "patient_id": me,
                "record_id": record,
                "segment": "labs",
                "x-content-sha256": hashlib.sha256(BLOB).hexdigest(),
                "x-content-length": len(BLOB),
            },
            common | {"put_blob", "get_blob", "delete_tags", "search"},
        ),
    }


def _spec(stack: Any, name: str) -> dict[str, Any]:
    r = httpx.get(f"{service_url(stack, name)}/openapi.json", timeout=10)
    r.raise_for_status()
    spec: dict[str, Any] = r.json()
    return spec


def _generate(spec_url: str, where: Path) -> Path:
    (where / "config.json").write_text('{"post_hooks": []}')
    run = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--url",
            spec_url,
            "--config",
            "config.json",
            "--meta",
            "none",
            "--output-path",
            "client",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Warning" not in run.stdout, run.stdout[-3000:]  # nothing of the spec skipped
    return where / "client"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Any]:
    """``load(name, spec_url)``: the generated client package of a service, imported."""
    added: list[str] = []

    def load(name: str, spec_url: str) -> ModuleType:
        package = "generated_" + name.replace("-", "_")
        where = tmp_path / f"spec-{name}"
        where.mkdir()
        (tmp_path / package).symlink_to(_generate(spec_url, where))
        sys.path.insert(0, str(tmp_path))
        added.append(package)
        return importlib.import_module(package)

    yield load
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))
    for mod in [m for m in sys.modules if any(m.startswith(p) for p in added)]:
        del sys.modules[mod]


def _endpoints(package: ModuleType) -> dict[str, ModuleType]:
    """operationId -> the generated module of its operation."""
    api = importlib.import_module(f"{package.__name__}.api")
    found = {}
    for info in pkgutil.walk_packages(api.__path__, f"{api.__name__}."):
        module = importlib.import_module(info.name)
        if hasattr(module, "sync_detailed"):
            found[info.name.rsplit(".", 1)[1]] = module
    return found


def _arguments(
    spec: dict[str, Any], op: Operation, caller: Caller, module: ModuleType, package: ModuleType
) -> dict[str, Any]:
    """The generated function's arguments: path, required query and header parameters
    from the caller's values, the body from the spec's example (or the test blob)."""
    kwargs: dict[str, Any] = {}
    for where in ("path", "query", "header"):
        for param in op.params(where, required_only=True):
            kwargs[python_name(param["name"])] = caller.values[param["name"]]
    signature = inspect.signature(module.sync_detailed)
    if "body" in signature.parameters:
        kind = signature.parameters["body"].annotation
        types = importlib.import_module(f"{package.__name__}.types")
        if kind is types.File:
            kwargs["body"] = types.File(payload=io.BytesIO(BLOB))
        else:
            kwargs["body"] = kind.from_dict(json_body_example(spec, op))
    return kwargs


def _expected_type(spec: dict[str, Any], op: Operation, status: int) -> str | None:
    """The component name of the JSON schema the spec gives this answer, if any."""
    content = op.doc["responses"].get(str(status), {}).get("content", {})
    for media in content.values():
        ref = media.get("schema", {}).get("$ref")
        if ref:
            return str(ref.rsplit("/", 1)[1])
    return None


@pytest.mark.parametrize("name", SERVICES)
def test_a_client_generated_from_the_spec_calls_every_operation(
    stack: Any, callers: dict[str, Caller], generated: Any, name: str
) -> None:
    url = service_url(stack, name)
    spec, caller = _spec(stack, name), callers[name]
    package = generated(name, f"{url}/openapi.json")
    endpoints = _endpoints(package)
    assert set(endpoints) == {op.id for op in operations(spec)}, "an operation not generated"
    client = package.AuthenticatedClient(
        base_url=url,
        token=caller.token,
        timeout=httpx.Timeout(30.0),
        raise_on_unexpected_status=True,  # the generated client's own check of the spec
        headers={"X-Correlation-ID": f"openapi-client-{name}"},
    )
    errors = importlib.import_module(f"{package.__name__}.errors")
    answers: dict[str, int] = {}
    wrong: list[str] = []
    with client:
        for op in operations(spec):
            module = endpoints[op.id]
            kwargs = _arguments(spec, op, caller, module, package)
            try:
                response = module.sync_detailed(client=client, **kwargs)
            except errors.UnexpectedStatus as exc:
                wrong.append(f"{op.id}: {exc.status_code} not in its spec: {exc.content[:300]!r}")
                continue
            status = answers[op.id] = int(response.status_code)
            expected = _expected_type(spec, op, status)
            if status != 204 and response.parsed is None:
                wrong.append(f"{op.id}: {status} did not parse: {response.content[:300]!r}")
            elif expected is not None and type(response.parsed).__name__ != expected:
                wrong.append(f"{op.id}: {status} parsed as {type(response.parsed)}, not {expected}")
    assert not wrong, "\n".join(wrong)
    failed = {op: s for op, s in answers.items() if op in caller.must_succeed and s >= 300}
    assert not failed, failed
    assert caller.must_succeed <= set(answers), caller.must_succeed - set(answers)


@pytest.mark.parametrize("name", SERVICES)
def test_every_status_a_service_sends_is_in_its_spec(
    stack: Any, callers: dict[str, Caller], name: str
) -> None:
    url, spec, caller = service_url(stack, name), _spec(stack, name), callers[name]
    seen: dict[tuple[str, str], int] = {}
    unlisted: list[str] = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for op in operations(spec):
            for probe, request in probes(spec, op, caller.token, caller.values):
                try:
                    r = http.request(op.method.upper(), **request)
                except httpx.TransportError:
                    assert probe == "too-large", (op.id, probe)
                    continue  # the server may close before the client has sent it all
                seen[(op.id, probe)] = r.status_code
                where = f"{op.method} {op.path} [{probe}] -> {r.status_code}"
                if not op.lists(r.status_code):
                    unlisted.append(f"{where}: {r.text[:200]}")
                elif (wrong := answer_mismatch(spec, op, r)) is not None:
                    unlisted.append(f"{where}: the answer is not of its schema: {wrong}")
    assert not unlisted, "\n".join(unlisted)
    secured = {op.id for op in operations(spec) if op.doc.get("security")}
    refused = {op for (op, probe), s in seen.items() if probe == "unauthenticated" and s == 401}
    assert secured <= refused, secured - refused  # every secured operation refuses no token
    assert any(s == 413 for (_, probe), s in seen.items() if probe == "too-large"), seen
    assert any(200 <= s < 300 for (_, probe), s in seen.items() if probe == "happy"), seen


def test_each_spec_names_its_server_and_bearer_scheme(stack: Any) -> None:
    for name in SERVICES:
        spec = _spec(stack, name)
        assert spec["servers"], name
        schemes = spec["components"]["securitySchemes"].values()
        assert any(s.get("scheme", "").lower() == "bearer" for s in schemes), name
