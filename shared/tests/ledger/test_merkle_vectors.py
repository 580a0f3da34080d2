"""transparency-dev/merkle's inclusion and consistency test vectors, run on our verifier.

The vectors (testdata/inclusion and testdata/consistency of
github.com/transparency-dev/merkle, Apache-2.0) are not copied into this repository:
they are read from a snapshot of that repository, found at ``PHR_MERKLE_VECTORS`` (a
git directory or a checkout) or at the snapshot the development machines keep under
``/work/.mirror``. Every happy case must be accepted and every corrupted one refused,
and nothing but :class:`ProofInvalid` may be raised.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from phr.ledger import merkle

MIRROR = Path("/work/.mirror/transparency-dev+merkle/repo")


def _source() -> Path | None:
    env = os.environ.get("PHR_MERKLE_VECTORS")
    for cand in [Path(env)] if env else [MIRROR]:
        if cand.exists():
            return cand
    return None


def _vectors(kind: str) -> list[tuple[str, dict[str, Any]]]:
    src = _source()
    if src is None:
        return []
    if (src / "testdata").is_dir():  # a checkout
        files = sorted((src / "testdata" / kind).rglob("*.json"))
        return [(str(f.relative_to(src)), json.loads(f.read_text())) for f in files]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={src}", *args], check=True, capture_output=True, text=True
        ).stdout

    names = git("ls-tree", "-r", "--name-only", "HEAD", f"testdata/{kind}").split()
    return [(n, json.loads(git("show", f"HEAD:{n}"))) for n in names if n.endswith(".json")]


def _b(v: str | None) -> bytes:
    return base64.b64decode(v or "")


def _proof(v: list[str] | None) -> list[bytes]:
    return [_b(h) for h in v or []]


INCLUSION = _vectors("inclusion")
CONSISTENCY = _vectors("consistency")
needs_vectors = pytest.mark.skipif(
    not INCLUSION, reason="no transparency-dev/merkle snapshot (set PHR_MERKLE_VECTORS)"
)


@needs_vectors
def test_the_snapshot_has_every_kind_of_case() -> None:
    # 98 inclusion and 98 consistency files in the snapshot of 2026-12: the test must
    # not pass vacuously on a partial read.
    assert len(INCLUSION) >= 90 and len(CONSISTENCY) >= 90
    for cases in (INCLUSION, CONSISTENCY):
        assert {c["wantErr"] for _, c in cases} == {True, False}


@needs_vectors
@pytest.mark.parametrize(("name", "case"), INCLUSION, ids=[n for n, _ in INCLUSION])
def test_inclusion_vector(name: str, case: dict[str, Any]) -> None:
    def run() -> None:
        merkle.verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            _b(case["leafHash"]),
            _proof(case["proof"]),
            _b(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(merkle.ProofInvalid):
            run()
    else:
        run()


@needs_vectors
@pytest.mark.parametrize(("name", "case"), CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_consistency_vector(name: str, case: dict[str, Any]) -> None:
    def run() -> None:
        merkle.verify_consistency(
            case["size1"],
            case["size2"],
            _b(case["root1"]),
            _b(case["root2"]),
            _proof(case["proof"]),
        )

    if case["wantErr"]:
        with pytest.raises(merkle.ProofInvalid):
            run()
    else:
        run()
