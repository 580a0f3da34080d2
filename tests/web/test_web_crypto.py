"""The page's crypto (web/src/crypto) and the Python code agree byte for byte.

Three directions: the golden vector files hold what the Python code makes today; the
node test suite (``node --test web/test/``) checks the JS against those files; and what
the JS writes (a keystore, an enrolment, a login answer, ...) the Python code accepts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from phr.client.access import decrypt_record, grantee_secret, open_segment_payload, owner_secret
from phr.crypto.export import export_secret_keys, import_secret_keys
from phr.crypto.grants import GrantDocument, verify_grant
from phr.crypto.keystore import load_keystore
from phr.crypto.manifest import verify_manifest
from phr.crypto.pre import KeyCapsule, open_sealed_key, reencrypt, verify_kfrag
from phr.crypto.published_keys import verify_patient_keys
from phr.crypto.seal import NodeSecretKey, unseal
from phr.crypto.search import keyword_tags
from phr.crypto.signing import VerifyKey, b64u_decode
from phr.fhir.keywords import payload_keywords
from phr.identity.proofs import enrolment_message, login_message
from tests.web import make_tables, make_vectors

WEB = Path(__file__).resolve().parents[2] / "web"


def node() -> str:
    exe = shutil.which("node")
    assert exe, "node (>= 20) is needed for the web crypto tests: apt-get install nodejs"
    assert (WEB / "node_modules" / "@nucypher" / "umbral-pre").is_dir(), (
        "web/node_modules missing: run `make setup` (npm ci in web/)"
    )
    return exe


@pytest.mark.parametrize("name", sorted(set(make_vectors.BUILDERS) - make_vectors.RANDOMISED))
def test_vector_file_is_what_python_makes(name: str) -> None:
    """A deterministic vector file equals a fresh build from the Python code."""
    on_disk = (make_vectors.VECTORS / f"{name}.json").read_text(encoding="utf-8")
    assert on_disk == make_vectors.render(make_vectors.BUILDERS[name]()), (
        f"web/test/vectors/{name}.json is stale: python -m tests.web.make_vectors"
    )


def _kfrags_at_nodes(
    nodes: list[dict[str, str]], sealed: dict[str, str], doc: GrantDocument
) -> list[bytes]:
    """Each node opens its sealed kfrag, whose digest the grant document pins."""
    out = []
    for node in nodes:
        envelope = b64u_decode(sealed[node["id"]])
        assert doc.kfrag_sha256[node["id"]] == hashlib.sha256(envelope).hexdigest()
        secret = NodeSecretKey.from_b64(node["secret"])
        out.append(unseal(secret, envelope, node_id=node["id"], grant_id=doc.grant_id))
    return out


def test_randomised_vector_files_open_in_python() -> None:
    """The record and grant files (Umbral randomness) still verify and open in Python."""
    rec = _vector("record")
    km = import_secret_keys(rec["material"])
    assert km.master is not None
    manifest = verify_manifest(rec["signed_manifest"], expected_author=km.user.signing.verify_key)
    secrets = {e.name: owner_secret(km.master, e) for e in manifest.segments}
    cts = {n: [bytes.fromhex(h)] for n, h in rec["ciphertexts"].items()}
    assert decrypt_record(rec["signed_manifest"], secrets=secrets, ciphertexts=cts) == rec["bundle"]
    g = _vector("grant")
    patient = import_secret_keys(g["patient"])
    doc = verify_grant(g["signed_grant"], expected_author=patient.user.signing.verify_key)
    verifying, delegating, receiving = doc.keys()
    for kfrag in _kfrags_at_nodes(g["nodes"], g["sealed_kfrags"], doc):
        verify_kfrag(
            kfrag, verifying_pk=verifying, delegating_pk=delegating, receiving_pk=receiving
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
    docs = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json")}
    return {**docs, "dir": out}


def test_python_opens_the_keystore_the_page_writes(
    artefacts: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(artefacts["keystore"]), encoding="utf-8")
    km = load_keystore(path, "pässphrase from the page")
    # the file as the page offers it for download, read as `phr` reads its own
    from_file = load_keystore(artefacts["dir"] / "keystore.file", "pässphrase from the page")
    assert export_secret_keys(from_file) == artefacts["material"]
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


def _vector(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (make_vectors.VECTORS / f"{name}.json").read_text(encoding="utf-8")
    )
    return doc


def test_python_decrypts_the_record_the_page_encrypts(artefacts: dict[str, Any]) -> None:
    km = import_secret_keys(_vector("grant")["patient"])
    assert km.master is not None
    record = artefacts["record"]
    manifest = verify_manifest(
        record["signed_manifest"], expected_author=km.user.signing.verify_key
    )
    secrets = {e.name: owner_secret(km.master, e) for e in manifest.segments}
    cts = {n: [bytes.fromhex(h)] for n, h in record["ciphertexts"].items()}
    bundle = decrypt_record(record["signed_manifest"], secrets=secrets, ciphertexts=cts)
    assert bundle["entry"] == _vector("fhir")["bundle"]["entry"]
    for entry in manifest.segments:
        payload = open_segment_payload(manifest, entry.name, secrets[entry.name], cts[entry.name])
        want = keyword_tags(secrets[entry.name].search_key, payload_keywords(payload))
        assert record["tags"][entry.name] == want
        assert want == keyword_tags(km.master.search_key(entry.name, 1), payload_keywords(payload))


def test_python_accepts_the_grant_and_kfrags_the_page_makes(artefacts: dict[str, Any]) -> None:
    g = _vector("grant")
    patient, doctor = import_secret_keys(g["patient"]), import_secret_keys(g["doctor"])
    assert patient.master is not None
    record = artefacts["record"]
    manifest = verify_manifest(record["signed_manifest"])
    labs = manifest.segment("labs")
    for key_grant in artefacts["key_grants"]:
        doc = verify_grant(
            key_grant["signed_grant"], expected_author=patient.user.signing.verify_key
        )
        assert doc.grant_id == f"g_js/labs/v{key_grant['key_version']}"
        assert doc.receiving_pk == doctor.user.pre.public_key().b64()
        verifying, delegating, receiving = doc.keys()
        assert delegating == patient.master.segment_public_key("labs", doc.key_version)
        cfrags = []
        for kfrag in _kfrags_at_nodes(g["nodes"], key_grant["sealed_kfrags"], doc):
            if doc.key_version == 1:
                cfrags.append(
                    reencrypt(
                        KeyCapsule.from_b64(labs.capsule),
                        kfrag,
                        verifying_pk=verifying,
                        delegating_pk=delegating,
                        receiving_pk=receiving,
                    )
                )
        if doc.key_version == 1:
            secret = grantee_secret(doctor.user, labs, doc, cfrags[:2])
            assert secret == owner_secret(patient.master, labs)


def test_python_accepts_rotation_delegation_keys_and_seals(artefacts: dict[str, Any]) -> None:
    g = _vector("grant")
    patient, doctor = import_secret_keys(g["patient"]), import_secret_keys(g["doctor"])
    assert patient.master is not None
    rotated = verify_manifest(artefacts["rotated"], expected_author=patient.user.signing.verify_key)
    before = verify_manifest(artefacts["record"]["signed_manifest"])
    assert rotated.segment("labs").capsule_version == 2
    assert owner_secret(patient.master, rotated.segment("labs")) == owner_secret(
        patient.master, before.segment("labs")
    )
    for version, sealed in artefacts["delegation"]["labs"].items():
        raw = open_sealed_key(doctor.user.pre, KeyCapsule.from_b64(sealed))
        assert raw == patient.master.segment_secret_key("labs", int(version)).to_bytes()
    keys = verify_patient_keys(
        artefacts["patient_keys"], expected_author=patient.user.signing.verify_key
    )
    assert keys.segments["labs"].version == 2
    assert keys.segments["labs"].public_key == patient.master.segment_public_key("labs", 2).b64()
    s = artefacts["sealed"]
    node = next(n for n in g["nodes"] if n["id"] == s["node_id"])
    opened = unseal(
        NodeSecretKey.from_b64(node["secret"]),
        bytes.fromhex(s["envelope"]),
        node_id=s["node_id"],
        grant_id=s["grant_id"],
    )
    assert opened.hex() == s["plaintext"]


@pytest.mark.parametrize("name", sorted(make_tables.TABLES))
def test_page_tables_are_what_python_makes(name: str) -> None:
    """casefold_table.js and fhir_tables.js carry today's Python rules."""
    on_disk = (make_tables.CRYPTO / name).read_text(encoding="utf-8")
    assert on_disk == make_tables.TABLES[name](), (
        f"web/src/crypto/{name} is stale: python -m tests.web.make_tables"
    )
