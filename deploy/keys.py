"""Generate every process's keys and the public registry (stdlib + cryptography only).

    python deploy/keys.py /secrets        # what docker-compose.yml's `keys` init service runs

In DIR it creates, once (existing files are kept, so re-running is safe):

- ``<name>.ed25519``: hex Ed25519 seed, one per signing identity (replicas share one:
  ``ledger-2`` signs with ``ledger.ed25519``), mode 0600;
- ``<name>.x25519``: hex X25519 secret per SRS node (kfrags are sealed to it), mode 0600;
- ``registry.json``: every process's URL and public keys, no secrets, mode 0644, in the
  format :class:`phr.service.registry.Registry` reads and ``deploy/local/stack.py`` writes:
  ``{"services": {name: {"url", "ed25519_public", "x25519_public"?}}}``, public keys as
  unpadded base64url of the raw 32 bytes.

The file names match ``Stack.signing_key_file``/``x25519_key_file`` in deploy/local/stack.py,
so the local stack can call :func:`write_keys` instead of its own copy.
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
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class KeyedService(NamedTuple):
    """One process in the registry."""

    name: str
    url: str
    #: whose Ed25519 key it signs with (replicas share one)
    key_name: str
    #: SRS nodes also get an X25519 key
    is_srs: bool


#: The processes of docker-compose.yml: name, whose signing key, SRS node or not.
COMPOSE_PROCESSES: tuple[tuple[str, str, bool], ...] = (
    ("kgc", "kgc", False),
    ("owner-api", "owner-api", False),
    ("user-api", "user-api", False),
    ("cloud-store", "cloud-store", False),
    ("ledger", "ledger", False),
    ("ledger-2", "ledger", False),
    ("srs-1", "srs-1", True),
    ("srs-2", "srs-2", True),
    ("srs-3", "srs-3", True),
)

#: Inside the compose network every service listens on port 8000 under its own name.
COMPOSE_URL = "http://{name}:8000"


def compose_services(url_template: str = COMPOSE_URL) -> list[KeyedService]:
    return [
        KeyedService(name, url_template.format(name=name), key, srs)
        for name, key, srs in COMPOSE_PROCESSES
    ]


def signing_key_file(secrets_dir: Path, key_name: str) -> Path:
    """The Ed25519 seed file of one signing identity, created (mode 0600) if missing."""
    return _secret_file(secrets_dir / f"{key_name}.ed25519")


def x25519_key_file(secrets_dir: Path, name: str) -> Path:
    """The X25519 secret file of one SRS node, created (mode 0600) if missing."""
    return _secret_file(secrets_dir / f"{name}.x25519")


def public_b64(key: Ed25519PrivateKey | X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def registry(
    secrets_dir: Path, services: Iterable[tuple[str, str, str, bool]]
) -> dict[str, object]:
    """The registry document for these services (creating missing keys)."""
    entries: dict[str, dict[str, str]] = {}
    for name, url, key_name, is_srs in services:
        seed = bytes.fromhex(signing_key_file(secrets_dir, key_name).read_text().strip())
        entry = {
            "url": url,
            "ed25519_public": public_b64(Ed25519PrivateKey.from_private_bytes(seed)),
        }
        if is_srs:
            xs = bytes.fromhex(x25519_key_file(secrets_dir, name).read_text().strip())
            entry["x25519_public"] = public_b64(X25519PrivateKey.from_private_bytes(xs))
        entries[name] = entry
    return {"services": entries}


def write_keys(
    secrets_dir: Path,
    services: Iterable[tuple[str, str, str, bool]],
    registry_path: Path | None = None,
) -> Path:
    """Create the missing keys in ``secrets_dir`` and (re)write the registry; return its path.

    ``services`` holds ``(name, url, key_name, is_srs)`` tuples (:class:`KeyedService`).
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


def _secret_file(path: Path) -> Path:
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
    args = ap.parse_args(argv)
    path = write_keys(args.secrets_dir, compose_services(args.url_template), args.registry)
    names = ", ".join(name for name, *_ in COMPOSE_PROCESSES)
    print(f"[keys] keys for {names} in {args.secrets_dir}; registry {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
