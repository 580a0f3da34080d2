"""One profile's whole stack: its servers, its services, their keys and their status.

The facade the Makefile's CLI (``deploy.local.cli``), the test fixtures
(``tests/support/stack.py``) and the benchmarks drive. Run as a script it is the CLI:
``python deploy/local/stack.py up|down|status …`` (``--help``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy import keys  # noqa: E402
from deploy.local.processes import Processes, say, wait  # noqa: E402
from deploy.local.profiles import HOST, ROOT, Profile  # noqa: E402
from deploy.local.servers import SERVER_NAMES, Binaries, Servers, s3_credentials  # noqa: E402
from deploy.local.services import (  # noqa: E402
    ServiceSpec,
    internal_url,
    public_url,
    service_specs,
)

#: the bucket cloud-store keeps ciphertext in
CIPHERTEXT_BUCKET = "phr-ciphertext"


class Stack:
    """Starts, checks and stops one profile's servers and services."""

    def __init__(self, profile: Profile) -> None:
        self.p = profile
        self.base = profile.base
        self.run_dir = self.base / "run"
        self.log_dir = self.base / "logs"
        self.data_dir = self.base / "data"
        self.secrets_dir = self.base / "secrets"
        self.procs = Processes(self.run_dir, self.log_dir)
        self.servers = Servers(profile, self.procs, self.data_dir, self.secrets_dir)
        self.services = service_specs(profile.srs_nodes)
        self.venv = self.servers.bin.venv
        self._registry: Path | None = None

    # ---------------------------------------------------------------- servers

    def install_servers(self) -> None:
        self.servers.bin.install()

    @property
    def binaries(self) -> Binaries:
        return self.servers.bin

    @property
    def kafka_bootstrap(self) -> str:
        return self.servers.kafka_bootstrap

    @property
    def mongo_url(self) -> str:
        return self.servers.mongo_url

    @property
    def s3_endpoint(self) -> str:
        return self.servers.s3_endpoint

    @property
    def kafka_storage(self) -> str:
        return self.servers.kafka_storage

    def start_mongo(self) -> None:
        self.servers.start_mongo()

    def start_s3(self) -> None:
        self.servers.start_s3()

    def start_kafka(self) -> None:
        self.servers.start_kafka()

    # ---------------------------------------------------------------- secrets

    def s3_credentials(self) -> tuple[str, str]:
        return s3_credentials(self.secrets_dir)

    def signing_key_file(self, name: str) -> Path:
        """An Ed25519 seed per signing identity, generated once, mode 0600."""
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
            procs = [
                (s.name, self.service_url(s), s.key_name or s.name, s.is_srs, self.public_url(s))
                for s in self.services
            ]
            path = self.base / "registry.json"
            self._registry = keys.write_keys(self.secrets_dir, procs, registry_path=path)
        return self._registry

    # ---------------------------------------------------------------- services

    def spec(self, name: str) -> ServiceSpec:
        """The process of ours called ``name`` (KeyError if this stack has none)."""
        found = {s.name: s for s in self.services}
        return found[name]

    def service_url(self, spec: ServiceSpec) -> str:
        """The internal URL of ``spec`` (what the services and the tests call)."""
        return internal_url(self.p, spec)

    def public_url(self, spec: ServiceSpec) -> str:
        """What clients see in the KGC's signed parameters (PHR_<NAME>_PUBLIC_URL)."""
        return public_url(self.p, spec)

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        """The environment one service process starts with (names of its Settings)."""
        px = spec.env_prefix
        env = {
            f"{px}MONGO__URL": self.mongo_url,
            f"{px}MONGO__DATABASE": "phr_" + spec.name.replace("-", "_"),
            f"{px}KAFKA__BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            f"{px}KAFKA__CLIENT_ID": spec.name,
            f"{px}SIGNING_KEY_FILE": str(self.signing_key_file(spec.key_name or spec.name)),
            f"{px}REGISTRY_FILE": str(self.registry_file()),
            f"{px}LOG__FORMAT": "json",
            f"{px}LOG__FILE": str(self.log_dir / f"{spec.name}.jsonl"),
            **spec.extra_env,
        }
        if spec.module == "kgc":
            env[f"{px}THRESHOLD"] = str(self.p.srs_threshold)
        if spec.partition is not None:  # Tansu: no two producers on one partition
            env[f"{px}KAFKA__PRODUCER_PARTITION"] = str(spec.partition)
        env |= self.page_env(spec)
        if spec.is_srs:
            env[f"{px}X25519_KEY_FILE"] = str(self.x25519_key_file(spec.name))
        if spec.module == "cloud_store":
            access, secret = self.s3_credentials()
            env |= {
                f"{px}S3__ENDPOINT": self.s3_endpoint,
                f"{px}S3__ACCESS_KEY": access,
                f"{px}S3__SECRET_KEY": secret,
                f"{px}S3__BUCKET": CIPHERTEXT_BUCKET,
            }
        return env

    @property
    def page_url(self) -> str:
        """Where the patient's web page is: owner-api's public URL."""
        return self.public_url(self.spec("owner-api")) + "/"

    def page_env(self, spec: ServiceSpec) -> dict[str, str]:
        """owner-api serves the built page (web/dist, if built); the services the page
        calls across origins (CORS) let it; its CSP allows the S3 of presigned URLs."""
        px = spec.env_prefix
        if spec.name == "owner-api":
            dist = ROOT / "web" / "dist"
            env = {f"{px}WEB_CONNECT_SRC": json.dumps([f"http://{self.s3_endpoint}"])}
            return env | ({f"{px}WEB_DIR": str(dist)} if (dist / "index.html").is_file() else {})
        if spec.name in ("kgc", "user-api", "ledger"):
            page = self.public_url(self.spec("owner-api"))
            return {f"{px}CORS_ORIGINS": json.dumps([page])}
        return {}

    def start_service(self, spec: ServiceSpec) -> None:
        uvicorn = str(Path(sys.executable).parent / "uvicorn")
        argv = [uvicorn, f"{spec.module}.main:create_app", "--factory", "--host", HOST]
        argv += ["--port", str(self.p.ports[spec.port_key])]
        argv += ["--no-access-log", "--log-level", "warning"]
        self.procs.spawn(spec.name, argv, env=self.service_env(spec))

    def ready(self, spec: ServiceSpec) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(self.service_url(spec) + "/readyz", timeout=2) as r:
                return r.status == 200, "ready"
        except urllib.error.HTTPError as exc:
            return False, exc.read().decode(errors="replace")[:200]
        except OSError as exc:
            return False, str(exc)

    # ---------------------------------------------------------------- backup and restore

    @property
    def operator_file(self) -> Path:
        """The operator credential the KGC writes at first start (kgc.settings default)."""
        return self.base / "operator" / "operator.json"

    def admin_env(self) -> dict[str, str]:
        """What `phr admin backup|restore` needs to find this stack's state (PHR_* names)."""
        access, secret = self.s3_credentials()
        return {
            "PHR_MONGO_URL": self.mongo_url,
            "PHR_S3_ENDPOINT": self.s3_endpoint,
            "PHR_S3_ACCESS_KEY": access,
            "PHR_S3_SECRET_KEY": secret,
            "PHR_S3_BUCKET": CIPHERTEXT_BUCKET,
            "PHR_KAFKA": self.kafka_bootstrap,
            "PHR_SECRETS_DIR": str(self.secrets_dir),
            "PHR_OPERATOR_FILE": str(self.operator_file),
        }

    def admin(self, verb: str, directory: Path) -> None:
        """Run `phr admin VERB DIRECTORY` against this stack (SystemExit if it fails)."""
        argv = [sys.executable, "-m", "phr.cli", "admin", verb, str(directory)]
        env = {**os.environ, **self.admin_env()}
        if subprocess.run(argv, env=env, cwd=ROOT).returncode != 0:
            raise SystemExit(f"phr admin {verb} failed")

    def backup(self, directory: Path) -> None:
        """Back up the running stack into ``directory``."""
        self.admin("backup", directory)

    def restore(self, directory: Path) -> None:
        """Restore ``directory`` into this stack, which must be fresh; then start it."""
        self.up(services=False)
        self.admin("restore", directory)
        self.up()

    # ---------------------------------------------------------------- the whole stack

    def pid(self, name: str) -> int | None:
        return self.procs.pid(name)

    def up(self, services: bool = True) -> None:
        t0 = time.monotonic()
        self.servers.start_all()
        if services:
            for spec in self.services:
                self.start_service(spec)
            for spec in self.services:
                self._wait_ready(spec)
        say(f"ready in {time.monotonic() - t0:.1f} s")

    def _wait_ready(self, spec: ServiceSpec, timeout: float = 90) -> None:
        what = f"{spec.name} /readyz"
        wait(what, lambda: self.ready(spec)[0], timeout, on_fail=lambda: self.procs.tail(spec.name))

    def stop(self, name: str, timeout: float = 15) -> None:
        # mongod forks into a session of its own: signal the process, not a group.
        self.procs.stop(name, timeout, group=name != "mongod")

    def down(self) -> None:
        for spec in self.services:
            self.stop(spec.name)
        for name in reversed(SERVER_NAMES):
            self.stop(name)
        say("stopped")

    def reset(self) -> None:
        """Stop everything and delete this profile's data and logs (never its secrets)."""
        self.down()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.log_dir, ignore_errors=True)

    def status(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for name, key in zip(SERVER_NAMES, ("mongo", "s3", "kafka"), strict=True):
            pid = self.pid(name)
            state = "running" if pid else "stopped"
            rows.append({"name": name, "pid": pid, "port": self.p.ports[key], "state": state})
        for spec in self.services:
            pid = self.pid(spec.name)
            state = ("ready" if self.ready(spec)[0] else "not ready") if pid else "stopped"
            port = self.p.ports[spec.port_key]
            url = self.service_url(spec)
            rows.append({"name": spec.name, "pid": pid, "port": port, "state": state, "url": url})
        return rows


__all__ = ["ROOT", "Stack"]

if __name__ == "__main__":
    from deploy.local.cli import main

    sys.exit(main())
