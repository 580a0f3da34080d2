"""docker-compose.yml, deploy/Dockerfile and deploy/keys.py agree with the services and the
local stack (deploy/local/stack.py). No Docker needed: the files are parsed, not run."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import stat
import sys
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from phr.service.registry import Registry
from tests.support.stack import stack_module

ROOT = Path(__file__).resolve().parents[2]
INFRA_PORTS = {"kafka": 9092, "mongo": 27017, "minio": 9000}
#: the compose service that runs deploy/keys.py, and where the keys are mounted
KEYS_SERVICE, SECRETS = "keys", "/secrets"
#: settings only compose sets (the local stack's defaults suit one machine): the KGC's
#: operator file lives in its own volume, since `secrets` is read-only and every service
#: reads it; one ledger replica writes the cut markers.
COMPOSE_ONLY = {
    "kgc": {"KGC_OPERATOR_FILE"},
    "ledger": {"LEDGER_WRITE_CUT_MARKERS"},
}


@cache
def compose() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(doc, dict)
    return doc


def services() -> dict[str, Any]:
    svcs = compose()["services"]
    assert isinstance(svcs, dict)
    return svcs


@cache
def keys_module() -> types.ModuleType:
    path = ROOT / "deploy" / "keys.py"
    spec = importlib.util.spec_from_file_location("phr_deploy_keys", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SPECS = stack_module().SERVICES
SPEC_IDS = [s.name for s in SPECS]


def member(spec: Any) -> str:
    """The uv workspace member (and SERVICE build arg) of a stack spec: owner_api -> owner-api."""
    return str(spec.module).replace("_", "-")


def env_of(name: str) -> dict[str, str]:
    env = services()[name].get("environment") or {}
    if isinstance(env, list):  # ["A=b", ...] form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def settings_class(spec: Any) -> type[BaseModel]:
    cls = importlib.import_module(f"{spec.module}.settings").Settings
    assert issubclass(cls, BaseModel)
    return typing.cast(type[BaseModel], cls)


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's annotation (``X``, ``X | None``), if any."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = nested_model(arg)
        if found is not None:
            return found
    return None


def resolve(model: type[BaseModel], parts: list[str]) -> bool:
    """Whether ``a__b__c`` (split) names a field of ``model``, following nested models."""
    field = model.model_fields.get(parts[0])
    if field is None:
        return False
    if len(parts) == 1:
        return True
    sub = nested_model(field.annotation)
    return sub is not None and resolve(sub, parts[1:])


@pytest.fixture
def dev_ports(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The dev profile's default ports, whatever PHR_*_PORT / PHR_PORT_OFFSET say here."""
    for name in list(os.environ):
        if name == "PHR_PORT_OFFSET" or (name.startswith("PHR_") and name.endswith("_PORT")):
            monkeypatch.delenv(name)
    ports = stack_module().profile("dev").ports
    assert isinstance(ports, dict)
    return ports


@pytest.fixture
def tmp_stack(tmp_path: Path, dev_ports: dict[str, int]) -> Any:
    """A dev-port stack whose secrets live in tmp_path (nothing of .local is touched)."""
    mod = stack_module()
    return mod.Stack(mod.Profile("dev", tmp_path / "stack", dev_ports))


def host_port(entry: str | dict[str, Any]) -> tuple[int, int]:
    if isinstance(entry, dict):
        return int(entry["published"]), int(entry["target"])
    *_, host, container = str(entry).split(":")
    return int(host), int(container)


def depends(name: str) -> dict[str, str]:
    dep = services()[name].get("depends_on") or {}
    assert isinstance(dep, dict), f"{name}: depends_on needs conditions (the long form)"
    return {k: v["condition"] for k, v in dep.items()}


# ---------------------------------------------------------------- our services


def test_every_stack_process_is_a_compose_service() -> None:
    ours = {n for n, s in services().items() if "build" in s and n != KEYS_SERVICE}
    assert ours == set(SPEC_IDS)
    assert {member(s) for s in SPECS} == {
        "kgc",
        "owner-api",
        "user-api",
        "cloud-store",
        "ledger",
        "srs",
    }


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_service_is_built_from_the_one_dockerfile(spec: Any) -> None:
    build = services()[spec.name]["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert build["args"] == {"SERVICE": member(spec)}
    assert (ROOT / "services" / member(spec) / "pyproject.toml").exists()


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_service_has_a_readiness_healthcheck(spec: Any) -> None:
    check = services()[spec.name].get("healthcheck")
    assert check and not check.get("disable")
    assert "/readyz" in " ".join(check["test"])
    assert "8000" in " ".join(check["test"])


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_service_waits_for_healthy_infrastructure_and_keys(spec: Any) -> None:
    dep = depends(spec.name)
    assert dep["kafka"] == "service_healthy"
    assert dep["mongo"] == "service_healthy"
    assert dep[KEYS_SERVICE] == "service_completed_successfully"
    if spec.module == "cloud_store":
        assert dep["minio"] == "service_healthy"
        assert dep["minio-init"] == "service_completed_successfully"


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_service_port_is_the_local_stack_port(spec: Any, dev_ports: dict[str, int]) -> None:
    ports = [host_port(p) for p in services()[spec.name]["ports"]]
    assert ports == [(dev_ports[spec.port_key], 8000)]


def test_infrastructure_ports_are_the_local_stack_ports(dev_ports: dict[str, int]) -> None:
    assert dev_ports["kafka"] == INFRA_PORTS["kafka"]
    assert dev_ports["mongo"] == INFRA_PORTS["mongo"]
    assert dev_ports["s3"] == INFRA_PORTS["minio"]
    for name, port in INFRA_PORTS.items():
        published = {host_port(p)[0] for p in services()[name]["ports"]}
        assert port in published, name


def test_no_host_port_is_published_twice() -> None:
    published = [host_port(p)[0] for s in services().values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))


# ---------------------------------------------------------------- environment


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_env_var_is_a_settings_field(spec: Any) -> None:
    """pydantic-settings ignores unknown names (extra="ignore"): a typo would go unseen."""
    cls = settings_class(spec)
    prefix = spec.env_prefix
    unknown = []
    for name in env_of(spec.name):
        assert name.startswith(prefix), f"{name} lacks the prefix {prefix}"
        if not resolve(cls, name[len(prefix) :].lower().split("__")):
            unknown.append(name)
    assert not unknown, f"{spec.name}: not fields of {cls.__module__}.Settings: {unknown}"


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_required_setting_is_provided(spec: Any) -> None:
    cls = settings_class(spec)
    prefix = spec.env_prefix
    given = [n[len(prefix) :].lower().split("__") for n in env_of(spec.name)]
    missing = [
        f"{prefix}{name.upper()}"
        for name, field in cls.model_fields.items()
        if field.is_required() and [name] not in given and not any(g[0] == name for g in given)
    ]
    # Setting one nested field replaces the whole default model, so a nested group that
    # is given at all must be given complete (MONGO__URL without MONGO__DATABASE fails).
    for group in {g[0] for g in given if len(g) > 1}:
        sub = nested_model(cls.model_fields[group].annotation)
        assert sub is not None
        missing += [
            f"{prefix}{group.upper()}__{name.upper()}"
            for name, field in sub.model_fields.items()
            if field.is_required() and [group, name] not in given
        ]
    assert not missing, f"{spec.name}: required settings not set: {missing}"
    env = env_of(spec.name)
    # No ephemeral keys in a deployment: every service signs with its key file.
    assert f"{prefix}ALLOW_EPHEMERAL_KEY" not in env
    assert env[f"{prefix}SIGNING_KEY_FILE"] == f"{SECRETS}/{spec.key_name or spec.name}.ed25519"
    assert env[f"{prefix}REGISTRY_FILE"] == f"{SECRETS}/registry.json"
    if spec.module == "srs":
        assert env[f"{prefix}X25519_KEY_FILE"] == f"{SECRETS}/{spec.name}.x25519"
    mounts = services()[spec.name]["volumes"]
    assert f"secrets:{SECRETS}:ro" in mounts


def test_kgc_writes_its_operator_file_into_its_own_volume() -> None:
    env = env_of("kgc")
    assert env["KGC_OPERATOR_FILE"] == "/var/lib/phr/operator.json"
    assert "kgc-state:/var/lib/phr" in services()["kgc"]["volumes"]
    # every other service must not see it
    for name in SPEC_IDS:
        if name != "kgc":
            assert not any("kgc-state" in v for v in services()[name]["volumes"]), name


def test_exactly_one_ledger_replica_writes_cut_markers() -> None:
    ledgers = [s.name for s in SPECS if s.module == "ledger"]
    writers = [n for n in ledgers if env_of(n).get("LEDGER_WRITE_CUT_MARKERS") == "true"]
    assert writers == ["ledger"]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_env_names_match_the_local_stack(spec: Any, tmp_stack: Any) -> None:
    """The same names as Stack.service_env() (the source of truth); LOG__FILE is local only."""
    px = spec.env_prefix
    local = tmp_stack.service_env(spec)
    env = env_of(spec.name)
    extra = COMPOSE_ONLY.get(spec.name, set())
    assert set(env) - extra == set(local) - extra - {f"{px}LOG__FILE"}
    same_values = [f"{px}MONGO__DATABASE", f"{px}KAFKA__CLIENT_ID", f"{px}LOG__FORMAT"]
    same_values += list(spec.extra_env)
    if spec.module == "cloud_store":
        same_values.append(f"{px}S3__BUCKET")
    for name in same_values:
        assert env[name] == local[name], name
    assert "replicaSet=rs0" in env[f"{px}MONGO__URL"]


def test_secrets_come_from_the_env_file_not_the_compose_file() -> None:
    for name, svc in services().items():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if any(word in key for word in ("PASSWORD", "SECRET_KEY")):
                assert str(value).startswith("${") and ":?" in str(value), (name, key)
    example = (ROOT / "deploy" / ".env.example").read_text()
    for var in ("MINIO_ROOT_PASSWORD", "PHR_S3_SECRET_KEY"):
        assert f"{var}=" in example


# ---------------------------------------------------------------- infrastructure


def test_kafka_runs_in_kraft_mode() -> None:
    assert not [n for n, s in services().items() if "zookeeper" in (n + s.get("image", ""))]
    kafka = services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert not any("ZOOKEEPER" in k for k in env)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert kafka["healthcheck"]["test"]


def test_mongo_is_a_replica_set_initiated_by_its_healthcheck() -> None:
    mongo = services()["mongo"]
    assert mongo["image"] == "mongo:7.0.14"
    command = mongo["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in check and "isWritablePrimary" in check


def test_minio_and_its_bucket() -> None:
    minio = services()["minio"]
    assert minio["image"].startswith("quay.io/minio/minio:RELEASE.")
    assert minio["healthcheck"]["test"]
    init = services()["minio-init"]
    assert init["image"].startswith("quay.io/minio/mc:RELEASE.")
    assert depends("minio-init") == {"minio": "service_healthy"}
    assert init["environment"]["S3_BUCKET"] == env_of("cloud-store")["CLOUD_STORE_S3__BUCKET"]
    assert "mc mb" in " ".join(init["command"])


def test_keys_init_service_runs_deploy_keys() -> None:
    keys = services()[KEYS_SERVICE]
    assert keys["build"]["dockerfile"] == "deploy/Dockerfile"
    assert keys["command"][-2:] == ["/app/deploy/keys.py", SECRETS]
    assert f"secrets:{SECRETS}" in keys["volumes"]
    assert "secrets" in compose()["volumes"]


def test_dockerfile_and_dockerignore() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG SERVICE" in text
    assert "python:3.11-slim" in text
    assert 'uv sync --frozen --no-dev --no-editable --package "${SERVICE}"' in text
    assert "COPY deploy/keys.py /app/deploy/keys.py" in text
    user = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/readyz" in text
    assert "main:create_app" in text and "--factory" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".git", ".local", ".venv", "**/__pycache__", ".mypy_cache", ".env"):
        assert pattern in ignored


# ---------------------------------------------------------------- deploy/keys.py


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_match_the_local_stack_processes() -> None:
    keys = keys_module()
    expected = tuple((s.name, s.key_name or s.name, s.module == "srs") for s in SPECS)
    assert keys.COMPOSE_PROCESSES == expected


def test_write_keys_makes_a_registry_the_services_load(tmp_path: Path) -> None:
    keys = keys_module()
    secrets_dir = tmp_path / "secrets"
    path = keys.write_keys(secrets_dir, keys.compose_services())
    assert path == secrets_dir / "registry.json"

    registry = Registry.load(path)
    assert list(registry.services) == sorted(SPEC_IDS)
    assert registry.url("owner-api") == "http://owner-api:8000"
    assert set(registry.srs_nodes()) == {"srs-1", "srs-2", "srs-3"}
    assert (
        registry.services["ledger-2"].ed25519_public == registry.services["ledger"].ed25519_public
    )
    publics = [e.ed25519_public for n, e in registry.services.items() if n != "ledger-2"]
    assert len(set(publics)) == len(publics)

    files = sorted(p.name for p in secrets_dir.iterdir())
    expected = {f"{s.name}.ed25519" for s in SPECS if not s.key_name}
    expected |= {f"{s.name}.x25519" for s in SPECS if s.module == "srs"}
    assert files == sorted(expected | {"registry.json"})
    for name in expected:
        key = secrets_dir / name
        assert _mode(key) == 0o600, name
        assert len(bytes.fromhex(key.read_text())) == 32
    assert _mode(path) == 0o644  # public keys only


def test_write_keys_keeps_existing_keys(tmp_path: Path) -> None:
    keys = keys_module()
    first = keys.write_keys(tmp_path, keys.compose_services()).read_text()
    seed = (tmp_path / "kgc.ed25519").read_text()
    second = keys.write_keys(tmp_path, keys.compose_services()).read_text()
    assert first == second
    assert (tmp_path / "kgc.ed25519").read_text() == seed


def test_write_keys_writes_what_the_local_stack_writes(tmp_stack: Any, tmp_path: Path) -> None:
    """Same file names and registry format: stack.py can reuse write_keys."""
    keys = keys_module()
    procs = [
        (s.name, tmp_stack.service_url(s), s.key_name or s.name, s.module == "srs") for s in SPECS
    ]
    ours = keys.write_keys(tmp_stack.secrets_dir, procs, tmp_path / "registry.json")
    theirs = tmp_stack.registry_file()  # reads the seeds write_keys created
    assert json.loads(ours.read_text()) == json.loads(theirs.read_text())


def test_keys_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = keys_module()
    assert keys.main([str(tmp_path), "--url-template", "http://localhost/{name}"]) == 0
    registry = Registry.load(tmp_path / "registry.json")
    assert registry.url("srs-2") == "http://localhost/srs-2"
    assert "registry" in capsys.readouterr().out
