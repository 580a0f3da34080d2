"""The page's crypto (web/src/crypto) and the Python code agree byte for byte.

Three directions: the golden vector files hold what the Python code makes today; the
node test suite (``node --test web/test/``) checks the JS against those files; and what
the JS writes (a keystore, an enrolment, a login answer, ...) the Python code accepts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from phr.crypto.export import export_secret_keys
from phr.crypto.keystore import load_keystore
from phr.crypto.signing import VerifyKey, b64u_decode
from phr.identity.proofs import enrolment_message, login_message
from tests.web import make_vectors

WEB = Path(__file__).resolve().parents[2] / "web"


def node() -> str:
    exe = shutil.which("node")
    assert exe, "node (>= 20) is needed for the web crypto tests: apt-get install nodejs"
    assert (WEB / "node_modules" / "@nucypher" / "umbral-pre").is_dir(), (
        "web/node_modules missing: run `make setup` (npm ci in web/)"
    )
    return exe


@pytest.mark.parametrize("name", sorted(make_vectors.BUILDERS))
def test_vector_file_is_what_python_makes(name: str) -> None:
    """A deterministic vector file equals a fresh build from the Python code."""
    on_disk = (make_vectors.VECTORS / f"{name}.json").read_text(encoding="utf-8")
    assert on_disk == make_vectors.render(make_vectors.BUILDERS[name]()), (
        f"web/test/vectors/{name}.json is stale: python -m tests.web.make_vectors"
    )


def test_node_suite_passes() -> None:
    """The JS checks itself against the vectors (node's built-in test runner)."""
    proc = subprocess.run(
        [node(), "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("web-artefacts")
    subprocess.run(
        [node(), "scripts/emit_artefacts.js", str(out), "pässphrase from the page"],
        cwd=WEB,
        check=True,
        timeout=120,
    )
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json")}


def test_python_opens_the_keystore_the_page_writes(
    artefacts: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(artefacts["keystore"]), encoding="utf-8")
    km = load_keystore(path, "pässphrase from the page")
    assert export_secret_keys(km) == artefacts["material"]
    assert km.master is not None
    public = artefacts["public"]
    assert km.user.public().to_json() == public["user"]
    for segment, pk in public["segments"].items():
        assert km.master.segment_public_key(segment, 1).b64() == pk
    assert km.master.kfrag_signer().public_key().b64() == public["kfrag_signer"]
    assert km.master.search_key("labs", 1).hex() == public["search_labs_v1"]


def test_python_accepts_the_page_enrolment_and_login(artefacts: dict[str, Any]) -> None:
    body = dict(artefacts["enrolment"])
    proof = b64u_decode(body.pop("proof"))
    key = VerifyKey.from_b64(body["ed25519_public"])
    key.verify(proof, enrolment_message(**body))
    login = artefacts["login"]
    message = login_message(user_id=login["user_id"], nonce=login["nonce"])
    key.verify(b64u_decode(login["signature"]), message)
