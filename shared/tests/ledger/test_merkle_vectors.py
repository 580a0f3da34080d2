"""transparency-dev/merkle's inclusion and consistency test vectors, run on our verifier.

The vectors (testdata/inclusion and testdata/consistency of
github.com/transparency-dev/merkle, Apache-2.0) are vendored unchanged under
``data/merkle-vectors`` (SOURCE names the commit), so a fresh clone runs
them. Every happy case must be accepted and every corrupted one refused, and nothing
but :class:`ProofInvalid` may be raised.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from phr.ledger import merkle

VECTORS = Path(__file__).parent / "data" / "merkle-vectors"


def _vectors(kind: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [(str(f.relative_to(VECTORS)), json.loads(f.read_text())) for f in files]


def _b(v: str | None) -> bytes:
    return base64.b64decode(v or "")


def _proof(v: list[str] | None) -> list[bytes]:
    return [_b(h) for h in v or []]


INCLUSION = _vectors("inclusion")
CONSISTENCY = _vectors("consistency")


def test_the_snapshot_has_every_kind_of_case() -> None:
    # 98 inclusion and 98 consistency files in the vendored copy: the test must not
    # pass vacuously on a partial read.
    assert len(INCLUSION) >= 90 and len(CONSISTENCY) >= 90
    for cases in (INCLUSION, CONSISTENCY):
        assert {c["wantErr"] for _, c in cases} == {True, False}


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
