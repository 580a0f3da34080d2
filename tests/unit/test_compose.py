"""docker-compose.yml, its override files, deploy/Dockerfile and the secrets generator agree
with the services and the one-machine stack (deploy.local). No Docker needed: the files are
parsed and checked against the Compose Specification's own JSON Schema, not run."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
import typing
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml
from pydantic import BaseModel

import deploy.local
from deploy import compose_secrets, keys, settings_doc
from phr.service.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "shared/tests/data/compose-spec/compose-spec.json"
COMPOSE_FILES = ["docker-compose.yml", "compose.seaweedfs.yml", "compose.cluster.yml"]
#: the public entry points and their host ports; nothing else is published
PUBLIC = {"kgc": 8001, "owner-api": 8002, "user-api": 8003, "ledger": 8005, "gateway": 8080}
#: S3 too (its own port): clients move ciphertext through presigned URLs, never a service
PUBLIC_S3 = {"s3": 9000}
BIND = "${PHR_BIND_ADDRESS:-127.0.0.1}"
#: settings only compose sets: the KGC's operator file lives in its own volume; one ledger
#: replica writes the cut markers; Mongo's SCRAM user; cloud-store's secret key file
#: (the one-machine mongod runs without auth on loopback, SeaweedFS takes the key inline)
COMPOSE_ONLY = {
    "KGC_OPERATOR_FILE",
    "LEDGER_WRITE_CUT_MARKERS",
    "CLOUD_STORE_S3__SECRET_KEY_FILE",
    # locally clients reach S3 at cloud-store's own endpoint; behind compose they do not
    "CLOUD_STORE_S3__PUBLIC_URL",
    # the image's page (deploy/Dockerfile's web stage); locally web/dist, once built
    "OWNER_API_WEB_DIR",
}
COMPOSE_ONLY_SUFFIXES = ("MONGO__USERNAME", "MONGO__PASSWORD_FILE")
#: only the local stack: its S3 secret, and a partition per access producer (a Tansu
#: stall when producers meet on one; compose's Kafka has none)
LOCAL_ONLY = {
    "CLOUD_STORE_S3__SECRET_KEY",
    "USER_API_KAFKA__PRODUCER_PARTITION",
    "SRS_KAFKA__PRODUCER_PARTITION",
}
SPECS = deploy.local.SERVICES
SPEC_IDS = [s.name for s in SPECS]


@cache
def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(doc, dict)
    return doc


@cache
def validator() -> Any:
    return fastjsonschema.compile(json.loads(SCHEMA.read_text()))


def compose() -> dict[str, Any]:
    return load("docker-compose.yml")


def services() -> dict[str, Any]:
    svcs = compose()["services"]
    assert isinstance(svcs, dict)
    return svcs


def member(spec: Any) -> str:
    """The uv workspace member (and SERVICE build arg) of a stack spec: owner_api -> owner-api."""
    return str(spec.module).replace("_", "-")


def env_of(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):  # ["A=b", ...] form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def secrets_of(svc: dict[str, Any]) -> dict[str, str]:
    """target -> source of a service's secrets (long syntax)."""
    return {s["target"]: s["source"] for s in svc.get("secrets", [])}


def settings_class(module: str) -> type[BaseModel]:
    cls = importlib.import_module(f"{module}.settings").Settings
    assert issubclass(cls, BaseModel)
    return typing.cast(type[BaseModel], cls)


#: the pydantic model inside a field's annotation (``X``, ``X | None``), if any
nested_model = settings_doc.nested_model


def resolve(model: type[BaseModel], parts: list[str]) -> bool:
    """Whether ``a__b__c`` (split) names a field of ``model``, following nested models."""
    field = model.model_fields.get(parts[0])
    if field is None:
        return False
    if len(parts) == 1:
        return True
    sub = nested_model(field.annotation)
    return sub is not None and resolve(sub, parts[1:])


def unknown_and_missing(
    module: str, prefix: str, env: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Names that are no Settings field, and required settings not given."""
    cls = settings_class(module)
    unknown = [
        n
        for n in env
        if not n.startswith(prefix) or not resolve(cls, n[len(prefix) :].lower().split("__"))
    ]
    given = [n[len(prefix) :].lower().split("__") for n in env if n.startswith(prefix)]
    missing = [
        f"{prefix}{name.upper()}"
        for name, field in cls.model_fields.items()
        if field.is_required() and not any(g[0] == name for g in given)
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
    return unknown, missing


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


@pytest.fixture
def tmp_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A dev-profile stack whose files live in tmp_path (nothing of .local is touched)."""
    for name in ("PHR_PORT_OFFSET", "PHR_SRS_NODES", "PHR_SRS_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    ports = deploy.local.profile("dev").ports
    return deploy.local.Stack(deploy.local.Profile("dev", tmp_path / "stack", ports))


# ---------------------------------------------------------------- the files themselves


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_is_valid_under_the_compose_spec_schema(name: str) -> None:
    validator()(load(name))


def test_the_schema_catches_a_mistake() -> None:
    broken = json.loads(json.dumps(compose()))
    broken["services"]["kgc"]["healthchek"] = {}
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validator()(broken)


def test_generated_srs_override_is_valid_and_names_real_settings(tmp_path: Path) -> None:
    override = yaml.safe_load(compose_secrets.srs_override(5))
    validator()(override)
    assert sorted(override["services"]) == ["srs-4", "srs-5"]
    for name, svc in override["services"].items():
        assert svc["extends"] == {"file": "docker-compose.yml", "service": "srs-1"}
        env = {**env_of(services()["srs-1"]), **env_of(svc)}
        assert env["SRS_NODE_ID"] == name and env["SRS_MONGO__USERNAME"] == name
        assert unknown_and_missing("srs", "SRS_", env) == ([], [])
        sources = secrets_of(svc)
        assert set(sources) == set(secrets_of(services()["srs-1"]))
        assert sources["signing_key"] == f"{name}-signing-key"
        for target, source in sources.items():
            assert source in override["secrets"] or source in compose()["secrets"], target


# ---------------------------------------------------------------- our services


def test_every_stack_process_is_a_compose_service() -> None:
    ours = {n for n, s in services().items() if "build" in s and "profiles" not in s}
    assert ours == set(SPEC_IDS)
    assert {member(s) for s in SPECS} == {
        "kgc",
        "owner-api",
        "user-api",
        "cloud-store",
        "ledger",
        "srs",
    }


@pytest.mark.parametrize("name", [*SPEC_IDS, "gateway"])
def test_service_is_built_from_the_one_dockerfile_and_named(name: str) -> None:
    svc = services()[name]
    build = svc["build"]
    assert build["context"] == "." and build["dockerfile"] == "deploy/Dockerfile"
    package = build["args"]["SERVICE"]
    assert (
        ROOT / ("shared" if package == "phr" else f"services/{package}") / "pyproject.toml"
    ).exists()
    # named and versioned beside build:, the version of the workspace
    assert svc["image"] == f"phr-exchange/{package}:{project_version()}"


@pytest.mark.parametrize("name", list(compose()["services"]))
def test_every_service_has_limits_log_rotation_and_a_pinned_image(name: str) -> None:
    svc = services()[name]
    image = svc["image"]
    repo, _, tag = image.rpartition(":")
    assert repo and tag and tag != "latest", image
    # an exact version: 3.9.0, 7.0.28, RELEASE.2025-09-07T16-13-09Z (never `7` or `3.9`)
    assert re.fullmatch(r"\d+\.\d+\.\d+|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", tag), image
    assert svc["logging"]["driver"] == "json-file"
    assert svc["logging"]["options"]["max-size"] and svc["logging"]["options"]["max-file"]
    if svc.get("restart") != "no":  # long-running: bounded
        limits = svc["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0 and limits["memory"].endswith(("M", "G"))


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_service_has_a_readiness_healthcheck_and_waits_for_its_infrastructure(spec: Any) -> None:
    svc = services()[spec.name]
    check = svc.get("healthcheck")
    assert check and "/readyz" in " ".join(check["test"]) and "8000" in " ".join(check["test"])
    dep = {k: v["condition"] for k, v in svc["depends_on"].items()}
    assert dep["kafka"] == "service_healthy"
    assert dep["mongo-init"] == "service_completed_successfully"
    if spec.module == "cloud_store":
        assert dep["s3-init"] == "service_completed_successfully"
    assert svc["read_only"] is True and "no-new-privileges:true" in svc["security_opt"]


# ---------------------------------------------------------------- ports


def published(svc: dict[str, Any]) -> list[tuple[str, int, int]]:
    out = []
    for entry in svc.get("ports", []):
        host, port, target = str(entry).rsplit(":", 2)
        out.append((host, int(port), int(target)))
    return out


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_only_the_public_entry_points_are_published(name: str) -> None:
    svcs = load(name)["services"]
    exposed = {n: published(s) for n, s in svcs.items() if s.get("ports")}
    assert set(exposed) <= set(PUBLIC) | set(PUBLIC_S3), exposed
    for n, ports in exposed.items():
        if n in PUBLIC_S3:
            assert ports == [(BIND, PUBLIC_S3[n], PUBLIC_S3[n])], n
        else:
            assert ports == [(BIND, PUBLIC[n], 8000)], n


def test_public_ports_are_the_local_stack_ports(tmp_stack: Any) -> None:
    expected = {n: p for n, p in PUBLIC.items() if n != "gateway"}
    assert {n: published(services()[n])[0][1] for n in expected} == expected
    for name, port in expected.items():
        assert tmp_stack.p.ports[tmp_stack.spec(name).port_key] == port
    assert compose_secrets.PUBLISHED == PUBLIC


# ---------------------------------------------------------------- environment and secrets


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_env_var_is_a_settings_field_and_every_required_one_is_set(spec: Any) -> None:
    """pydantic-settings ignores unknown names (extra="ignore"): a typo would go unseen."""
    env = env_of(services()[spec.name])
    unknown, missing = unknown_and_missing(spec.module, spec.env_prefix, env)
    assert not unknown, f"{spec.name}: not fields of {spec.module}.settings.Settings: {unknown}"
    assert not missing, f"{spec.name}: required settings not set: {missing}"
    px = spec.env_prefix
    assert f"{px}ALLOW_EPHEMERAL_KEY" not in env  # every service signs with its key file
    assert env[f"{px}MONGO__USERNAME"] == spec.name
    assert env[f"{px}MONGO__DATABASE"] == compose_secrets.database(spec.name)
    assert "replicaSet=rs0" in env[f"{px}MONGO__URL"] and "@" not in env[f"{px}MONGO__URL"]


@pytest.mark.parametrize("name", ["compose.cluster.yml"])
def test_override_env_names_are_settings_fields(name: str) -> None:
    ours = {s.name: s for s in SPECS}
    svcs = load(name)["services"]
    for svc_name, svc in svcs.items():
        if svc_name in ours:
            spec = ours[svc_name]
            merged = {**env_of(services()[svc_name]), **env_of(svc)}
            assert unknown_and_missing(spec.module, spec.env_prefix, merged) == ([], []), svc_name
    kafka = [env_of(s).get("KAFKA_MIN_INSYNC_REPLICAS") for n, s in svcs.items() if "kafka" in n]
    assert kafka == ["2", "2", "2"]
    assert (
        "mongo:27017,mongo-2:27017,mongo-3:27017" in env_of(svcs["mongo-init"])["PHR_MONGO_MEMBERS"]
    )
    assert {n for n in svcs if n.startswith("weed-volume")} == {
        f"weed-volume-{i}" for i in (1, 2, 3)
    }


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_keys_are_compose_secrets_mounted_per_service(spec: Any) -> None:
    svc = services()[spec.name]
    env, mounted = env_of(svc), secrets_of(svc)
    px = spec.env_prefix
    key = spec.key_name or spec.name
    assert mounted["signing_key"] == f"{key}-signing-key"
    assert env[f"{px}SIGNING_KEY_FILE"] == "/run/secrets/signing_key"
    assert mounted["mongo_password"] == f"mongo-{spec.name}-password"
    assert env[f"{px}MONGO__PASSWORD_FILE"] == "/run/secrets/mongo_password"
    assert mounted["registry.json"] == "registry"
    assert env[f"{px}REGISTRY_FILE"] == "/run/secrets/registry.json"
    if spec.is_srs:
        assert mounted["x25519_key"] == f"{spec.name}-x25519-key"
        assert env[f"{px}X25519_KEY_FILE"] == "/run/secrets/x25519_key"
    # every secret it names is declared, and comes from the generated secrets directory
    for source in mounted.values():
        assert compose()["secrets"][source]["file"].startswith("${PHR_SECRETS_DIR:-./secrets}/")


def test_no_secret_is_written_into_the_environment() -> None:
    for name, svc in services().items():
        for key, value in env_of(svc).items():
            if re.search(r"PASSWORD|SECRET|_KEY$", key) and not key.endswith(
                ("_FILE", "ACCESS_KEY")
            ):
                pytest.fail(f"{name}: {key}={value} belongs in a secret file")
    assert "PASSWORD=" not in (ROOT / "deploy" / ".env.example").read_text()


def test_kgc_threshold_and_operator_file() -> None:
    env = env_of(services()["kgc"])
    assert env["KGC_THRESHOLD"] == "${PHR_SRS_THRESHOLD:-2}"
    assert env["KGC_OPERATOR_FILE"].startswith("/var/lib/phr/")
    assert "kgc-state:/var/lib/phr" in services()["kgc"]["volumes"]
    for name in SPEC_IDS:
        if name != "kgc":
            assert not any("kgc-state" in v for v in services()[name].get("volumes", [])), name


def test_exactly_one_ledger_replica_writes_cut_markers() -> None:
    ledgers = [s.name for s in SPECS if s.module == "ledger"]
    writers = [
        n for n in ledgers if env_of(services()[n]).get("LEDGER_WRITE_CUT_MARKERS") == "true"
    ]
    assert writers == ["ledger"]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_env_names_match_the_local_stack(spec: Any, tmp_stack: Any) -> None:
    """The same names as Stack.service_env(), but for what only one side needs."""
    px = spec.env_prefix
    local = set(tmp_stack.service_env(spec)) - {f"{px}LOG__FILE"} - LOCAL_ONLY - COMPOSE_ONLY
    env = env_of(services()[spec.name])
    ours = {n for n in env if n not in COMPOSE_ONLY and not n.endswith(COMPOSE_ONLY_SUFFIXES)}
    assert ours == local
    local_env = tmp_stack.service_env(spec)
    for name in [f"{px}MONGO__DATABASE", f"{px}KAFKA__CLIENT_ID", f"{px}LOG__FORMAT"]:
        assert env[name] == local_env[name], name
    for name, value in spec.extra_env.items():
        assert env[name] == value


# ---------------------------------------------------------------- infrastructure


def test_kafka_runs_in_kraft_mode_inside_the_network_only() -> None:
    assert not [n for n, s in services().items() if "zookeeper" in (n + s.get("image", ""))]
    kafka = services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:") and "ports" not in kafka
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "localhost" not in env["KAFKA_ADVERTISED_LISTENERS"]


def test_mongo_is_an_authenticated_replica_set_with_one_user_per_service() -> None:
    mongo = services()["mongo"]
    major, minor, patch = (int(x) for x in mongo["image"].split(":")[1].split("."))
    assert (major, minor) == (7, 0) and patch >= 28  # CVE-2025-14847 is fixed in 7.0.28
    command = " ".join(mongo["command"])
    assert "--replSet rs0" in command and "--keyFile" in command
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD_FILE"].startswith("/run/secrets/")
    init = services()["mongo-init"]
    assert {c["source"] for c in init["configs"]} == {"mongo-init"}
    script = (ROOT / compose()["configs"]["mongo-init"]["file"]).read_text()
    assert "replSetInitiate" in script and "createUser" in script and "readWrite" in script


def test_s3_server_bucket_and_user() -> None:
    minio = services()["s3"]
    assert minio["image"].startswith("quay.io/minio/minio:RELEASE.")
    assert "MINIO_ROOT_PASSWORD" not in minio["environment"]
    init = services()["s3-init"]
    assert init["image"].startswith("quay.io/minio/mc:RELEASE.")
    cloud = env_of(services()["cloud-store"])
    assert init["environment"]["S3_BUCKET"] == cloud["CLOUD_STORE_S3__BUCKET"]
    assert init["environment"]["S3_ACCESS_KEY"] == cloud["CLOUD_STORE_S3__ACCESS_KEY"]


def test_gateway_is_optional_and_runs_phr_gateway() -> None:
    gateway = services()["gateway"]
    assert gateway["profiles"] == ["gateway"]
    command = " ".join(gateway["command"])
    assert "phr gateway" in command and "--home /var/lib/phr/gateway" in command
    assert "--port 8000" in command and "--host 0.0.0.0" in command
    assert "/fhir/metadata" in " ".join(gateway["healthcheck"]["test"])
    assert secrets_of(gateway) == {"gateway_passphrase": "gateway-passphrase"}


def test_seaweedfs_switch_replaces_minio() -> None:
    override = load("compose.seaweedfs.yml")["services"]
    assert override["s3"]["image"].startswith("chrislusf/seaweedfs:")
    assert "s3-init" in override


def test_dockerfile_and_dockerignore() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG SERVICE" in text and "python:3.11-slim" in text
    assert 'uv sync --frozen --no-dev --no-editable --package "${SERVICE}"' in text
    user = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in text and "main:create_app" in text and "--factory" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".git", ".local", ".venv", "**/__pycache__", ".env", "secrets"):
        assert pattern in ignored
    # a local build of the page never leaks into the context; the image builds its own
    assert {"dist", "node_modules", "**/node_modules"} <= set(ignored)


def test_the_images_carry_the_page_owner_api_serves() -> None:
    """deploy/Dockerfile builds web/ with npm ci (package-lock.json's versions) and the
    pinned esbuild of web/build.mjs, and copies the build where compose points owner-api."""
    lines = (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
    stages = [line.split()[-1] for line in lines if line.startswith("FROM ") and " AS " in line]
    assert "web" in stages
    runs = " ".join(line for line in lines if line.startswith("RUN "))
    assert "npm ci" in runs and "node build.mjs" in runs
    copies = [line.split() for line in lines if line.startswith("COPY --from=web ")]
    assert len(copies) == 1
    target = copies[0][-1]
    assert env_of(services()["owner-api"])["OWNER_API_WEB_DIR"] == target
    for source in ("web/package.json", "web/package-lock.json", "web/build.mjs", "web/src/"):
        assert any(line.startswith("COPY ") and source in line.split() for line in lines), source
        assert (ROOT / source).exists(), source
    assert (ROOT / "web" / "src" / "index.html").is_file()


# ---------------------------------------------------------------- generated secrets


def test_compose_secrets_writes_every_declared_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHR_OWNER_API_PUBLIC_URL", "https://phr.example.org/owner")
    secrets_dir = tmp_path / "secrets"
    override = tmp_path / "compose.srs.yml"
    compose_secrets.write_all(secrets_dir, 3, override)
    for source, decl in compose()["secrets"].items():
        path = decl["file"].replace("${PHR_SECRETS_DIR:-./secrets}", str(secrets_dir))
        assert Path(path).is_file(), source
    assert not override.exists()
    registry = Registry.load(secrets_dir / "registry.json")
    assert registry.url("owner-api") == "http://owner-api:8000"
    assert registry.public_url("owner-api") == "https://phr.example.org/owner"
    assert registry.public_url("kgc") == "http://localhost:8001"
    assert registry.public_url("srs-1") == "http://srs-1:8000"  # internal only
    users = json.loads((secrets_dir / "mongo-users.json").read_text())
    assert sorted(users) == sorted(SPEC_IDS)
    assert users["ledger-2"]["database"] == "phr_ledger_2"
    assert (secrets_dir / "mongo-ledger-2.password").read_text() == users["ledger-2"]["password"]
    assert secrets_dir.stat().st_mode & 0o777 == 0o700


def test_compose_secrets_keeps_keys_and_writes_the_override_for_more_nodes(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    override = tmp_path / "compose.srs.yml"
    assert (
        compose_secrets.main([str(secrets_dir), "--nodes", "3", "--override", str(override)]) == 0
    )
    seed = (secrets_dir / "srs-1.ed25519").read_text()
    assert (
        compose_secrets.main([str(secrets_dir), "--nodes", "5", "--override", str(override)]) == 0
    )
    assert (secrets_dir / "srs-1.ed25519").read_text() == seed
    assert sorted(Registry.load(secrets_dir / "registry.json").srs_nodes()) == [
        f"srs-{i}" for i in range(1, 6)
    ]
    assert sorted(yaml.safe_load(override.read_text())["services"]) == ["srs-4", "srs-5"]
    with pytest.raises(SystemExit):
        compose_secrets.main([str(secrets_dir), "--nodes", "2", "--override", str(override)])


# ---------------------------------------------------------------- deploy/keys.py


def test_keys_match_the_local_stack_processes() -> None:
    expected = tuple((s.name, s.key_name or s.name, s.is_srs) for s in SPECS)
    assert keys.COMPOSE_PROCESSES == expected
    five = deploy.local.service_specs(5)
    assert keys.compose_processes(5) == tuple(
        (s.name, s.key_name or s.name, s.is_srs) for s in five
    )


def test_write_keys_makes_a_registry_the_services_load(tmp_path: Path) -> None:
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
    expected |= {f"{s.name}.x25519" for s in SPECS if s.is_srs}
    assert files == sorted(expected | {"registry.json"})
    for name in expected:
        key = secrets_dir / name
        assert key.stat().st_mode & 0o777 == 0o600, name
        assert len(bytes.fromhex(key.read_text())) == 32
    assert path.stat().st_mode & 0o777 == 0o644  # public keys only


def test_write_keys_keeps_existing_keys(tmp_path: Path) -> None:
    first = keys.write_keys(tmp_path, keys.compose_services()).read_text()
    seed = (tmp_path / "kgc.ed25519").read_text()
    second = keys.write_keys(tmp_path, keys.compose_services()).read_text()
    assert first == second
    assert (tmp_path / "kgc.ed25519").read_text() == seed


def test_write_keys_writes_what_the_local_stack_writes(tmp_stack: Any, tmp_path: Path) -> None:
    """Same file names and registry format: the local stack calls write_keys too."""
    procs = [
        (s.name, tmp_stack.service_url(s), s.key_name or s.name, s.is_srs)
        for s in tmp_stack.services
    ]
    ours = keys.write_keys(tmp_stack.secrets_dir, procs, tmp_path / "registry.json")
    theirs = tmp_stack.registry_file()  # reads the seeds write_keys created
    assert json.loads(ours.read_text()) == json.loads(theirs.read_text())


def test_local_stack_public_urls_and_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHR_PORT_OFFSET", raising=False)
    monkeypatch.setenv("PHR_SRS_NODES", "5")
    monkeypatch.setenv("PHR_SRS_THRESHOLD", "3")
    monkeypatch.setenv("PHR_USER_API_PUBLIC_URL", "https://phr.example.org/user")
    monkeypatch.setenv("PHR_STACK_DIR", str(tmp_path / "stack"))
    stack = deploy.local.Stack(deploy.local.profile("dev"))
    assert [s.name for s in stack.services if s.is_srs] == [f"srs-{i}" for i in range(1, 6)]
    ports = [stack.p.ports[f"srs_{i}"] for i in range(1, 6)]
    assert ports == [8011, 8012, 8013, 8014, 8016]  # 8015 is ledger-2's
    assert len(set(stack.p.ports.values())) == len(stack.p.ports)
    assert stack.service_env(stack.spec("kgc"))["KGC_THRESHOLD"] == "3"
    registry = Registry.load(stack.registry_file())
    assert registry.url("user-api") == "http://127.0.0.1:8003"
    assert registry.public_url("user-api") == "https://phr.example.org/user"
    assert registry.public_url("kgc") == registry.url("kgc")
    monkeypatch.setenv("PHR_SRS_THRESHOLD", "6")
    with pytest.raises(SystemExit, match="PHR_SRS_THRESHOLD"):
        deploy.local.profile("dev")


def test_keys_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(tmp_path), "--url-template", "http://localhost/{name}", "--nodes", "4"]
    assert keys.main([*args, "--public-url", "kgc=https://k.example.org"]) == 0
    registry = Registry.load(tmp_path / "registry.json")
    assert registry.url("srs-2") == "http://localhost/srs-2"
    assert registry.public_url("kgc") == "https://k.example.org"
    assert "srs-4" in registry.srs_nodes()
    assert "registry" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        keys.main([str(tmp_path), "--public-url", "nobody=https://x"])
