"""N SRS nodes with threshold t from configuration: a 3-of-5 deployment on one machine.

The stack is started as an operator would, with PHR_SRS_NODES=5 and PHR_SRS_THRESHOLD=3;
the KGC publishes five nodes and t=3, a grant splits its kfrags five ways, and a grantee
reads with two nodes down and is refused, with a reason, with three down.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phr.service.registry import Registry
from tests.support.cli import Phr, assert_clean_failure
from tests.support.identity import operator_file
from tests.support.stack import fresh_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

FIXTURE = Path(__file__).resolve().parents[2] / "shared/tests/data/synthea_r4_seed42.json.gz"


@pytest.fixture(scope="module")
def five_nodes() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHR_SRS_NODES", "5")
        mp.setenv("PHR_SRS_THRESHOLD", "3")
        with fresh_stack(extra_offset=175) as s:
            yield s


def test_three_of_five_nodes(five_nodes: Any, tmp_path: Path) -> None:
    stack = five_nodes
    nodes = [s.name for s in stack.services if s.is_srs]
    assert nodes == ["srs-1", "srs-2", "srs-3", "srs-4", "srs-5"]
    assert sorted(Registry.load(stack.registry_file()).srs_nodes()) == nodes
    phr = Phr(kgc_url=stack.service_url(stack.spec("kgc")))

    op = operator_file(stack).parent
    org = phr.json("org", "create", "Five Node Hospital", "--kind", "hospital", home=op)
    doctor = phr.json(
        "enrol", "--name", "Doc", "--role", "doctor", "--org", org["organisation_id"],
        home=tmp_path / "doc",
    )  # fmt: skip
    if doctor["status"] == "pending":
        phr.json("approve", doctor["user_id"], home=op)
    pat = tmp_path / "pat"
    patient = phr.json("enrol", "--name", "Pat", "--role", "patient", home=pat)["user_id"]
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    record = phr.json("upload", str(bundle), home=pat)["record_id"]
    phr.json("grant", "--user", doctor["user_id"], "--segments", "labs", home=pat)

    def fetch() -> Any:
        out = tmp_path / "labs.json"
        out.unlink(missing_ok=True)
        args = ["fetch", record, "--patient", patient, "--segments", "labs", "-o", str(out)]
        return phr.run(*args, home=tmp_path / "doc", check=False), out

    for name in ("srs-4", "srs-5"):
        stack.stop(name)
    proc, out = fetch()
    assert proc.returncode == 0, proc.stderr
    assert "Observation" in out.read_text()

    stack.stop("srs-3")
    proc, out = fetch()
    assert_clean_failure(proc, "labs")
    assert not out.exists()
