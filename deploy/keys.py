"""Generate every process's keys and the public registry (stdlib + cryptography only).

    python deploy/keys.py /secrets        # what docker-compose.yml's `keys` init service runs
    python deploy/keys.py /secrets --nodes 5 --public-url kgc=https://phr.example.org/kgc

In DIR it creates, once (existing files are kept, so re-running is safe):

- ``<name>.ed25519``: hex Ed25519 seed, one per signing identity (replicas share one:
  ``ledger-2`` signs with ``ledger.ed25519``), mode 0600;
- ``<name>.x25519``: hex X25519 secret per SRS node (kfrags are sealed to it), mode 0600;
- ``registry.json``: every process's URLs and public keys, no secrets, mode 0644, in the
  format :class:`phr.service.registry.Registry` reads:
  ``{"services": {name: {"url", "public_url"?, "ed25519_public", "x25519_public"?}}}``,
  public keys as unpadded base64url of the raw 32 bytes; ``url`` is the internal URL
  (service to service), ``public_url`` what clients see in the signed parameters.

The SRS node count comes from ``--nodes`` or ``PHR_SRS_NODES`` (default 3); a public URL
from ``--public-url NAME=URL`` or ``PHR_<NAME>_PUBLIC_URL`` (``PHR_OWNER_API_PUBLIC_URL``).
The one-machine stack (``deploy.local``) calls :func:`write_keys` too, so both write the
same files.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class KeyedService(NamedTuple):
    """One process in the registry."""

    name: str
    #: internal URL (service to service)
    url: str
    #: whose Ed25519 key it signs with (replicas share one)
    key_name: str
    #: SRS nodes also get an X25519 key
    is_srs: bool
    #: what clients see in the signed parameters (None: the internal URL)
    public_url: str | None = None


DEFAULT_SRS_NODES = 3

#: The processes of docker-compose.yml but the SRS nodes: name, whose signing key.
CORE_PROCESSES: tuple[tuple[str, str], ...] = (
    ("kgc", "kgc"),
    ("owner-api", "owner-api"),
    ("user-api", "user-api"),
    ("cloud-store", "cloud-store"),
    ("ledger", "ledger"),
    ("ledger-2", "ledger"),
)


def compose_processes(nodes: int = DEFAULT_SRS_NODES) -> tuple[tuple[str, str, bool], ...]:
    """Every process of a deployment with ``nodes`` SRS nodes: name, key, SRS node or not."""
    srs = tuple((f"srs-{i}", f"srs-{i}", True) for i in range(1, nodes + 1))
    return tuple((name, key, False) for name, key in CORE_PROCESSES) + srs


#: The processes of docker-compose.yml as it ships (three SRS nodes).
COMPOSE_PROCESSES = compose_processes()

#: Inside the compose network every service listens on port 8000 under its own name.
COMPOSE_URL = "http://{name}:8000"


def public_url_env(name: str) -> str:
    """The variable that sets a process's public URL: owner-api -> PHR_OWNER_API_PUBLIC_URL."""
    return f"PHR_{name.replace('-', '_').upper()}_PUBLIC_URL"


def compose_services(
    url_template: str = COMPOSE_URL,
    nodes: int = DEFAULT_SRS_NODES,
    public_urls: dict[str, str] | None = None,
) -> list[KeyedService]:
    public = public_urls or {}
    return [
        KeyedService(name, url_template.format(name=name), key, srs, public.get(name))
        for name, key, srs in compose_processes(nodes)
    ]


def signing_key_file(secrets_dir: Path, key_name: str) -> Path:
    """The Ed25519 seed file of one signing identity, created (mode 0600) if missing."""
    return secret_file(secrets_dir / f"{key_name}.ed25519")


def x25519_key_file(secrets_dir: Path, name: str) -> Path:
    """The X25519 secret file of one SRS node, created (mode 0600) if missing."""
    return secret_file(secrets_dir / f"{name}.x25519")


def public_b64(key: Ed25519PrivateKey | X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def registry(secrets_dir: Path, services: Iterable[tuple[Any, ...]]) -> dict[str, object]:
    """The registry document for these services (creating missing keys)."""
    entries: dict[str, dict[str, str]] = {}
    for item in services:
        name, url, key_name, is_srs, public = KeyedService(*item)
        seed = bytes.fromhex(signing_key_file(secrets_dir, key_name).read_text().strip())
        entry = {
            "url": url,
            "ed25519_public": public_b64(Ed25519PrivateKey.from_private_bytes(seed)),
        }
        if public and public != url:
            entry["public_url"] = public
        if is_srs:
            xs = bytes.fromhex(x25519_key_file(secrets_dir, name).read_text().strip())
            entry["x25519_public"] = public_b64(X25519PrivateKey.from_private_bytes(xs))
        entries[name] = entry
    return {"services": entries}


def write_keys(
    secrets_dir: Path,
    services: Iterable[tuple[Any, ...]],
    registry_path: Path | None = None,
) -> Path:
    """Create the missing keys in ``secrets_dir`` and (re)write the registry; return its path.

    ``services`` holds ``(name, url, key_name, is_srs[, public_url])`` tuples
    (:class:`KeyedService`).
    The registry goes to ``registry_path``, by default ``secrets_dir / "registry.json"``.
    """
    secrets_dir.mkdir(parents=True, exist_ok=True)
    doc = registry(secrets_dir, services)
    path = registry_path or secrets_dir / "registry.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True))
    os.chmod(tmp, 0o644)
    tmp.replace(path)
    return path


def secret_file(path: Path) -> Path:
    """A file of 32 random bytes in hex, created once (mode 0600); never overwritten."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a private temp file, then link it into place: a reader never sees a
        # half-written key, and of two racing writers the first one's key wins.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_bytes(32).hex())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    os.chmod(path, 0o600)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("secrets_dir", type=Path, help="where the key files and registry.json go")
    ap.add_argument(
        "--url-template",
        default=COMPOSE_URL,
        help="each service's URL in the registry, {name} is replaced (default: %(default)s)",
    )
    ap.add_argument(
        "--registry", type=Path, help="registry path (default: SECRETS_DIR/registry.json)"
    )
    ap.add_argument(
        "--nodes",
        type=int,
        default=int(os.environ.get("PHR_SRS_NODES") or DEFAULT_SRS_NODES),
        help="SRS nodes srs-1 … srs-N (default: PHR_SRS_NODES or %(default)s)",
    )
    ap.add_argument(
        "--public-url",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a process's public URL (default: PHR_<NAME>_PUBLIC_URL, else its internal URL)",
    )
    args = ap.parse_args(argv)
    if args.nodes < 1:
        ap.error("--nodes must be at least 1")
    processes = compose_processes(args.nodes)
    public = {
        n: os.environ[public_url_env(n)] for n, *_ in processes if public_url_env(n) in os.environ
    }
    for item in args.public_url:
        name, sep, url = item.partition("=")
        if not sep or name not in {n for n, *_ in processes} or not url:
            ap.error(f"--public-url wants NAME=URL with NAME a process, not {item!r}")
        public[name] = url
    services = compose_services(args.url_template, args.nodes, public)
    path = write_keys(args.secrets_dir, services, args.registry)
    names = ", ".join(name for name, *_ in processes)
    print(f"[keys] keys for {names} in {args.secrets_dir}; registry {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
