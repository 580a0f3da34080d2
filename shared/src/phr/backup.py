"""Back up a running deployment into a directory, and restore it into a fresh one.

What a backup holds (``DIR/manifest.json`` lists every file with its SHA-256):

- ``mongo/<database>/<collection>.bson``: every ``phr_*`` database, read in one snapshot
  session (one point in time across all databases, while the services keep writing);
- ``s3/<key>``: every object of the ciphertext bucket, copied *after* the snapshot.
  Objects are written before the Mongo documents that name them and never rewritten
  (a new key version is a new object), so every object the snapshot refers to exists;
  objects written after it are unreferenced extras;
- ``events.ndjson``: every event topic (``phr events dump``), read *after* the snapshot, so
  every record a consumer had applied at the snapshot is in it. Restored into an empty
  broker, the records keep their partitions and offsets; the ledger resumes its sequence
  topic at the offset its restored head names and the other consumers re-read from the
  start, skipping the event ids they had already applied;
- ``secrets/``: the deployment's key directory (signing keys, SRS node keys, passwords),
  and ``operator.json`` if given. Losing the SRS node keys loses every grant. The backup
  is therefore as secret as the keys: keep it encrypted at rest.

Restore refuses a deployment whose ``phr_*`` databases or bucket hold data.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from phr.capture.kafka import dump_all, replay_all
from phr.cli.events import DEFAULT_TOPICS

FORMAT = 1
DB_PREFIX = "phr_"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


@dataclass(frozen=True)
class Deployment:
    """Where a deployment's state lives (what `phr admin backup` reads, restore writes)."""

    mongo_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    kafka: str
    secrets_dir: Path
    operator_file: Path | None = None
    s3_secure: bool = False


def _s3(dep: Deployment) -> Any:
    import urllib3
    from minio import Minio

    return Minio(
        dep.s3_endpoint,
        access_key=dep.s3_access_key,
        secret_key=dep.s3_secret_key,
        secure=dep.s3_secure,
        region="us-east-1",
        http_client=urllib3.PoolManager(retries=urllib3.Retry(total=2), timeout=30.0),
    )


def _mongo(dep: Deployment) -> MongoClient[dict[str, Any]]:
    return MongoClient(dep.mongo_url, serverSelectionTimeoutMS=10000, tz_aware=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _databases(client: MongoClient[dict[str, Any]]) -> list[str]:
    return sorted(n for n in client.list_database_names() if n.startswith(DB_PREFIX))


def dump_mongo(dep: Deployment, out: Path) -> dict[str, int]:
    """Every ``phr_*`` collection at one point in time; returns documents per collection."""
    counts: dict[str, int] = {}
    with _mongo(dep) as client:
        names = {db: sorted(client[db].list_collection_names()) for db in _databases(client)}
        with client.start_session(snapshot=True) as session:
            for db, collections in names.items():
                (out / db).mkdir(parents=True, exist_ok=True)
                for coll in collections:
                    n = 0
                    with (out / db / f"{coll}.bson").open("wb") as fh:
                        for doc in client[db][coll].find({}, session=session):
                            fh.write(bson.encode(doc))
                            n += 1
                    counts[f"{db}.{coll}"] = n
    return counts


def dump_objects(dep: Deployment, out: Path) -> int:
    client = _s3(dep)
    n = 0
    for obj in client.list_objects(dep.s3_bucket, recursive=True):
        target = out / obj.object_name
        target.parent.mkdir(parents=True, exist_ok=True)
        client.fget_object(dep.s3_bucket, obj.object_name, str(target))
        n += 1
    return n


def _copy_secrets(src: Path, dst: Path) -> int:
    shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.tmp"))
    return sum(1 for p in dst.rglob("*") if p.is_file())


def backup(
    dep: Deployment, out: Path, say: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Write a consistent backup of ``dep`` into the empty or new directory ``out``."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty")
    if not dep.secrets_dir.is_dir():
        raise BackupError(f"no key directory at {dep.secrets_dir}")
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    started = datetime.now(UTC).isoformat()
    collections = dump_mongo(dep, out / "mongo")
    say(f"mongo: {len(collections)} collections, {sum(collections.values())} documents")
    objects = dump_objects(dep, out / "s3")
    say(f"s3: {objects} objects")
    events = asyncio.run(dump_all(dep.kafka, out / "events.ndjson", DEFAULT_TOPICS))
    say(f"events: {events} records")
    keys = _copy_secrets(dep.secrets_dir, out / "secrets")
    if dep.operator_file is not None and dep.operator_file.exists():
        shutil.copy2(dep.operator_file, out / "operator.json")
    files = {str(p.relative_to(out)): _sha256(p) for p in sorted(out.rglob("*")) if p.is_file()}
    manifest = {
        "format": FORMAT,
        "started": started,
        "collections": collections,
        "objects": objects,
        "events": events,
        "secrets": keys,
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def verify(src: Path) -> dict[str, Any]:
    """The manifest of ``src`` after checking every file's SHA-256 (BackupError if one differs)."""
    try:
        manifest: dict[str, Any] = json.loads((src / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} holds no readable manifest.json ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    for name, digest in manifest["files"].items():
        path = src / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{name} is missing or altered")
    return manifest


def _refuse_non_empty(dep: Deployment, client: MongoClient[dict[str, Any]]) -> None:
    for db in _databases(client):
        for coll in client[db].list_collection_names():
            if client[db][coll].estimated_document_count():
                raise BackupError(
                    f"the target already holds data ({db}.{coll}); restore needs a fresh one"
                )
    s3 = _s3(dep)
    if s3.bucket_exists(dep.s3_bucket) and next(iter(s3.list_objects(dep.s3_bucket)), None):
        raise BackupError(f"bucket {dep.s3_bucket} is not empty; restore needs a fresh one")


#: key files: a fresh deployment has none of its own, or the very same
KEY_SUFFIXES = (".ed25519", ".x25519")


def _restore_secrets(src: Path, dst: Path) -> None:
    """Copy the backup's keys in; keep what the target's running servers already use.

    A signing or node key the target holds with other contents is an error: grants are
    sealed to the backed-up node keys and events signed with the backed-up seeds.
    """
    dst.mkdir(parents=True, exist_ok=True)
    os.chmod(dst, 0o700)
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        target = dst / path.relative_to(src)
        if target.exists():
            if path.suffix in KEY_SUFFIXES and target.read_bytes() != path.read_bytes():
                raise BackupError(f"{target} holds another key than the backup's")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def restore(
    dep: Deployment, src: Path, say: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Restore ``src`` into the fresh deployment ``dep`` (its servers up, its services not)."""
    manifest = verify(src)
    for path in (src / "secrets").rglob("*"):
        target = dep.secrets_dir / path.relative_to(src / "secrets")
        if (
            path.suffix in KEY_SUFFIXES
            and target.exists()
            and target.read_bytes() != path.read_bytes()
        ):
            raise BackupError(f"{target} holds another key than the backup's")
    with _mongo(dep) as client:
        _refuse_non_empty(dep, client)
        n = 0
        for path in sorted((src / "mongo").glob("*/*.bson")):
            docs = list(bson.decode_file_iter(path.open("rb")))
            coll = client[path.parent.name][path.stem]
            if docs:
                try:
                    coll.insert_many(docs, ordered=False)
                except OperationFailure as exc:
                    raise BackupError(f"{path.parent.name}.{path.stem}: {exc}") from None
            n += len(docs)
    say(f"mongo: {n} documents")
    s3 = _s3(dep)
    if not s3.bucket_exists(dep.s3_bucket):
        s3.make_bucket(dep.s3_bucket)
    objects = [p for p in sorted((src / "s3").rglob("*")) if p.is_file()]
    for path in objects:
        s3.fput_object(dep.s3_bucket, str(path.relative_to(src / "s3")), str(path))
    say(f"s3: {len(objects)} objects")
    events = asyncio.run(replay_all(dep.kafka, src / "events.ndjson"))
    say(f"events: {events} records")
    _restore_secrets(src / "secrets", dep.secrets_dir)
    if dep.operator_file is not None and (src / "operator.json").exists():
        dep.operator_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "operator.json", dep.operator_file)
    return manifest
