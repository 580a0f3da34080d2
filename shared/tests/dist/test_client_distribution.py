"""The client distribution: what a hospital gets from ``pip install phr``.

What this proves, and what not:

- the wheel built from ``shared/`` declares no server framework (fastapi, starlette,
  uvicorn, aiokafka, pymongo …) among its unconditional requirements: they come only
  with the ``service`` extra (services), ``gateway`` (``phr gateway serve``), ``events``
  (``phr events``) or ``operator`` (``phr admin`` backup and restore);
- the locked dependency closure of those requirements (uv.lock) reaches none either,
  so no client dependency drags one in;
- every name of the SDK's public API (``phr.sdk.__all__``, ``phr.client.__all__``,
  ``phr.api``) and the ``phr`` command import in a fresh interpreter in which those
  frameworks cannot be imported at all.

It does not install the wheel into an empty environment (that needs an index).
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import phr.client
import phr.sdk

ROOT = Path(__file__).resolve().parents[3]
SERVER_ONLY = {"fastapi", "starlette", "uvicorn", "aiokafka", "pymongo", "motor", "minio"}
#: import names of SERVER_ONLY, blocked in the subprocess
BLOCKED = sorted(SERVER_ONLY | {"bson", "gridfs", "prometheus_client", "opentelemetry"})


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@pytest.fixture(scope="module")
def wheel_metadata(tmp_path_factory: pytest.TempPathFactory) -> email.message.Message:
    # ``uv run`` names itself in $UV; the venv's python has no uv module
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "run the tests with uv (make fast): building the wheel needs it"
    cmd = [uv]
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*cmd, "build", "--wheel", "--offline", "-q", "-o", str(out), str(ROOT / "shared")],
        check=True,
        timeout=120,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    (wheel,) = out.glob("phr-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


def _unconditional(meta: email.message.Message) -> list[Requirement]:
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or "extra" not in str(r.marker)]


def test_the_wheel_requires_no_server_framework(wheel_metadata: email.message.Message) -> None:
    names = {_norm(r.name) for r in _unconditional(wheel_metadata)}
    assert "httpx" in names and "umbral-pre" in names  # the client's own needs are there
    assert not names & SERVER_ONLY
    extras = set(wheel_metadata.get_all("Provides-Extra") or [])
    assert {"service", "gateway", "events", "operator"} <= extras


def test_the_locked_closure_of_the_client_reaches_no_server_framework(
    wheel_metadata: email.message.Message,
) -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {_norm(p["name"]): p for p in lock["package"]}
    seen: set[str] = set()
    todo = [_norm(r.name) for r in _unconditional(wheel_metadata)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_norm(d["name"]) for d in packages[name].get("dependencies", []))
    assert "cryptography" in seen
    assert not seen & SERVER_ONLY, sorted(seen & SERVER_ONLY)


_PROBE = """
import importlib, importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked: {name}")
        return None
sys.meta_path.insert(0, Block())
for module in sys.argv[2].split(","):
    mod = importlib.import_module(module)
    for name in getattr(mod, "__all__", []):
        getattr(mod, name)
from phr.cli import app
from typer.testing import CliRunner
result = CliRunner().invoke(app, ["--help"])
assert result.exit_code == 0, result.output
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
print("ok", len(sys.modules))
"""


def test_the_public_api_and_the_cli_import_without_any_server_framework() -> None:
    api_modules = sorted(
        f"phr.api.{p.stem}" for p in (ROOT / "shared/src/phr/api").glob("[!_]*.py")
    )
    modules = ["phr.sdk", "phr.client", *api_modules]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(BLOCKED), ",".join(modules)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ok")


def test_the_sdk_lists_its_public_api() -> None:
    for module in (phr.sdk, phr.client):
        assert module.__all__, module.__name__
        for name in module.__all__:
            assert getattr(module, name) is not None
    assert phr.sdk.__all__ == sorted(phr.sdk.__all__)
    assert set(phr.sdk.__all__) == set(phr.sdk._WHERE)
