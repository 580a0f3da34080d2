"""The operator: the first admin, created once with a key the KGC generates.

At first start (no operator in the database) the KGC writes the operator's secret keys
to ``Settings.operator_path()`` with mode 0600, in the key-export format of
``phr.crypto.export`` plus ``role`` and ``kgc_url``; the CLI and the tests log in with
it. If the file already exists (the database was reset, the file kept), its keys are
reused. The file's content is never logged.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from kgc.errors import KeyAlreadyEnrolled
from kgc.users import OPERATOR_ID, Directory
from phr.crypto.errors import KeystoreError
from phr.crypto.export import KeyMaterial, export_secret_keys, import_secret_keys
from phr.crypto.keys import UserKeys

log = structlog.get_logger("kgc.operator")


def _write_private(path: Path, text: str) -> None:
    """Atomic write; the file never exists with wider permissions than 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load_keys(path: Path) -> UserKeys | None:
    try:
        material = import_secret_keys(path.read_text())
    except (OSError, KeystoreError):
        return None
    return material.user if material.user_id == OPERATOR_ID else None


def operator_keys(path: Path, kgc_url: str | None) -> UserKeys:
    """The operator's keys from ``path``, or new ones written there (mode 0600)."""
    keys = _load_keys(path) if path.exists() else None
    if keys is None:
        keys = UserKeys.generate()
        doc = export_secret_keys(KeyMaterial(user=keys, user_id=OPERATOR_ID))
        doc |= {"role": "admin", "kgc_url": kgc_url}
        _write_private(path, json.dumps(doc, indent=2) + "\n")
    return keys


async def ensure_operator(directory: Directory, path: Path, kgc_url: str | None) -> None:
    """Create the operator (and its file) unless the database already has one."""
    if await directory.store.get_user(OPERATOR_ID) is not None:
        if not await asyncio.to_thread(path.exists):
            log.warning("operator.file_missing", path=str(path))
        return
    keys = await asyncio.to_thread(operator_keys, path, kgc_url)
    pub = keys.public()
    user: dict[str, Any] = {
        "_id": OPERATOR_ID,
        "role": "admin",
        "organisation_id": None,
        "department": None,
        "display_name": "operator",
        "status": "active",
        "ed25519_public": pub.verify.b64(),
        "umbral_public": pub.pre.b64(),
        "ed25519_fp": pub.verify.fingerprint(),
        "umbral_fp": pub.pre.fingerprint(),
        "enrolled_at": datetime.now(UTC),
    }
    user["credential"] = directory.credential_for(user).model_dump(mode="json")
    try:
        await directory.insert(user, None)
    except KeyAlreadyEnrolled:
        return  # another KGC instance won the race
    log.info("operator.created", user_id=OPERATOR_ID, path=str(path))
