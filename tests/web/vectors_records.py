"""Golden vectors of the record path: FHIR segmentation, search tags, the segment
cipher, sealing, manifests, records, grants and ledger proofs (see make_vectors)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from phr.client.access import decrypt_record, owner_secret
from phr.client.grant import SrsNode, make_grant
from phr.client.record import OwnerKeys, encrypt_record
from phr.client.search import trapdoors_for
from phr.crypto.documents import sign_document
from phr.crypto.export import export_secret_keys
from phr.crypto.seal import NodeSecretKey, seal
from phr.crypto.search import keyword_tags, normalise_keyword, trapdoor
from phr.crypto.signing import SigningKey, b64u_encode
from phr.crypto.stream import SegmentContext, encrypt_segment_bytes
from phr.fhir.keywords import payload_keywords
from phr.fhir.split import split_bundle
from phr.fhir.validate import FhirValidationError, validate_bundle
from phr.ledger import merkle
from phr.ledger.checkpoint import Checkpoint
from tests.web.vector_rand import material, stream

CODING = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def sample_bundle() -> dict[str, Any]:
    def obs(i: int, value: float, day: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": f"obs-{i}",
            "status": "final",
            "code": {
                "coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}],
                "text": "Hemoglobin A1c of the blood",
            },
            "effectiveDateTime": day,
            "valueQuantity": {"value": value, "unit": "%"},
        }

    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": "pat-1",
            "gender": "female",
            "name": [{"family": "Lovelace", "given": ["Ada"]}],
        },
        {
            "resourceType": "Condition",
            "id": "cond-1",
            "clinicalStatus": {"coding": [{"system": CODING, "code": "active"}]},
            "code": {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "44054006",
                        "display": "Diabetes mellitus type 2",
                    }
                ]
            },
            "subject": {"reference": "Patient/pat-1"},
        },
        obs(1, 7.1, "2026-01-10"),
        obs(2, 6.4, "2026-06-02"),
        {
            "resourceType": "MedicationStatement",
            "id": "med-1",
            "status": "active",
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "860975",
                        "display": "Metformin 500 MG Oral Tablet",
                    }
                ]
            },
            "subject": {"reference": "Patient/pat-1"},
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": "alg-1",
            "criticality": "high",
            "code": {"text": "Pénicilline — STRASSE ﬁbre Ωmega"},
            "patient": {"reference": "Patient/pat-1"},
        },
        {"resourceType": "Basic", "id": "b-1", "code": {"text": "misc"}},
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def _invalid_bundles() -> dict[str, Any]:
    good = sample_bundle()
    out: dict[str, Any] = {"not a bundle": {"resourceType": "Patient"}}
    bad = copy.deepcopy(good)
    bad["type"] = "pile"
    out["bundle type"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][2]["resource"]["status"] = "done"
    out["observation status"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][1]["resource"]["clinicalStatus"]["coding"][0]["code"] = "gone"
    out["condition clinical status"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][6]["resource"] = {"resourceType": "Citation", "id": "c"}
    out["R4B-only type"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][6]["resource"] = {"resourceType": "Nonsense", "id": "n"}
    out["unknown type"] = bad
    bad = copy.deepcopy(good)
    bad["type"] = "transaction"
    out["transaction without request"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][3]["fullUrl"] = bad["entry"][2]["fullUrl"]
    out["duplicate fullUrl"] = bad
    bad = copy.deepcopy(good)
    del bad["entry"][4]["resource"]
    out["entry without resource"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][5]["resource"]["reaction"] = [{"severity": "awful"}]
    out["reaction severity"] = bad
    # at any depth, by phr.fhir.schema's JSON Schema, which the page runs too
    bad = copy.deepcopy(good)
    bad["entry"][2]["resource"]["code"]["coding"][0]["sytem"] = "http://loinc.org"
    out["nested unknown element"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][2]["resource"]["component"] = [{"valueString": "high"}]
    out["nested required element missing"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][3]["resource"]["valueString"] = "high"
    out["a choice given two types"] = bad
    bad = copy.deepcopy(good)
    bad["entry"][0]["resource"]["contained"] = [{"resourceType": "Observation", "status": "final"}]
    out["contained resource invalid"] = bad
    bad = copy.deepcopy(good)
    div = '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'
    bad["entry"][6]["resource"]["text"] = {"status": "generated", "div": div, "dvi": "x"}
    out["narrative element misspelt"] = bad
    bad = copy.deepcopy(good)
    bad["unknown"] = 1
    out["unknown Bundle element"] = bad
    return out


def _element_faults() -> dict[str, Any]:
    """Bundles both refuse for an element's JSON type, pattern or shape (the validators'
    own words differ: jsonschema-rs in Python, @cfworker/json-schema in the page)."""
    good = sample_bundle()
    faults: dict[str, tuple[int, Any]] = {
        "unknown element": (2, lambda r: r.update(valueQuantty={"value": 1})),
        "required element missing": (2, lambda r: r.pop("code")),
        "required status missing": (2, lambda r: r.pop("status")),
        "single element given as a list": (2, lambda r: r.update(code=[r["code"]])),
        "list element given once": (0, lambda r: r.update(name=r["name"][0])),
        "id with a space": (0, lambda r: r.update(id="pat 1")),
        "required choice missing": (4, lambda r: r.pop("medicationCodeableConcept")),
        # FHIR JSON's booleans are JSON booleans (pydantic's lax bool once read it True)
        "boolean as a string": (0, lambda r: r.update(active="yes")),
        # nested: the JSON types and patterns of R4 at every depth
        "nested string as a number": (2, lambda r: r["code"]["coding"][0].update(system=12)),
        "nested decimal as a string": (2, lambda r: r["valueQuantity"].update(value="high")),
        "nested date not a date": (1, lambda r: r.update(onsetPeriod={"start": "yesterday"})),
        "nested list given once": (2, lambda r: r["code"].update(coding=r["code"]["coding"][0])),
        "extension without url": (0, lambda r: r.update(extension=[{"valueString": "x"}])),
    }
    out = {}
    for name, (index, change) in faults.items():
        bad = copy.deepcopy(good)
        change(bad["entry"][index]["resource"])
        out[name] = bad
    return out


def fhir_vectors() -> dict[str, Any]:
    bundle = sample_bundle()
    split = split_bundle(bundle)
    invalid = []
    for name, doc in _invalid_bundles().items():
        try:
            validate_bundle(doc)
        except FhirValidationError as exc:
            invalid.append({"name": name, "bundle": doc, "error": str(exc)})
        else:
            raise AssertionError(f"{name}: Python accepts it")
    for name, doc in _element_faults().items():
        try:
            validate_bundle(doc)
        except FhirValidationError as exc:
            invalid.append({"name": name, "bundle": doc, "error": None, "python": str(exc)})
        else:
            raise AssertionError(f"{name}: Python accepts it")
    return {
        "bundle": bundle,
        # what the page refuses and Python accepts (none: both follow R4's JSON types)
        "stricter": [],
        "segments": {
            seg.value: {"payload": p, "keywords": sorted(payload_keywords(p))}
            for seg, p in split.items()
        },
        "invalid": invalid,
    }


KEYWORDS = [
    "Blood  Sugar",
    "  Straße ",
    "ﬁnal ΟΔΟΣ",
    "İstanbul",
    "\u00a0x\u2003y\u3000z\x1cw",
    "①②③ Ⅻ",
    "loinc:4548-4",
    "ǅemal ꭰ ᏸ",
    "   ",
]


def search_vectors() -> dict[str, Any]:
    key = stream("search")(32)
    terms = ["http://loinc.org|4548-4", "snomed:44054006", "Diabetes type 2 and the blood"]
    return {
        "search_key": key.hex(),
        "keywords": [
            {"keyword": k, "normalised": normalise_keyword(k), "trapdoor": trapdoor(key, k)}
            for k in KEYWORDS
        ],
        "tags": keyword_tags(key, KEYWORDS),
        "terms": terms,
        "trapdoors_for": trapdoors_for(key, terms),
    }


def stream_vectors() -> dict[str, Any]:
    rand = stream("stream")
    key = rand(32)
    cases = []
    for n, chunk in ((0, 16), (5, 16), (16, 16), (40, 16), (1000, 64)):
        ctx = SegmentContext("usr_patient", f"r_{n}", "labs", 2)
        prefix = rand(7)
        plaintext = rand(n)
        ct, digest = encrypt_segment_bytes(
            key, ctx, plaintext, chunk_size=chunk, rand=lambda _n, p=prefix: p
        )
        cases.append(
            {
                "context": {
                    "patient_id": ctx.patient_id,
                    "record_id": ctx.record_id,
                    "segment": ctx.segment,
                    "key_version": ctx.key_version,
                },
                "chunk_size": chunk,
                "nonce_prefix": prefix.hex(),
                "plaintext": plaintext.hex(),
                "ciphertext": ct.hex(),
                "sha256": digest.hex(),
            }
        )
    return {"data_key": key.hex(), "cases": cases}


def _nodes(label: str) -> tuple[list[NodeSecretKey], list[dict[str, str]]]:
    rand = stream(label)
    sks = [NodeSecretKey(rand(32)) for _ in range(3)]
    return sks, [
        {"id": f"srs-{i}", "x25519_public": sk.public_key().b64(), "secret": sk.b64()}
        for i, sk in enumerate(sks)
    ]


def seal_vectors() -> dict[str, Any]:
    rand = stream("seal")
    sks, nodes = _nodes("seal-nodes")
    cases = []
    for i, sk in enumerate(sks):
        eph = NodeSecretKey(rand(32))
        plaintext = rand(40 + i)
        env = seal(
            sk.public_key(), plaintext, node_id=f"srs-{i}", grant_id="g_1/labs/v1", ephemeral=eph
        )
        cases.append(
            {
                "node": nodes[i],
                "grant_id": "g_1/labs/v1",
                "ephemeral": eph.b64(),
                "plaintext": plaintext.hex(),
                "envelope": env.hex(),
            }
        )
    return {"cases": cases}


def record_vectors() -> dict[str, Any]:
    km = material("patient", patient=True)
    assert km.master is not None
    rec = encrypt_record(
        sample_bundle(),
        patient_id="usr_patient",
        record_id="r_vector",
        keys=OwnerKeys(km.master, {"labs": 2}),
        author=km.user.signing,
        chunk_size=256,
    )
    signed = rec.signed_manifest.model_dump(mode="json")
    secrets = {e.name: owner_secret(km.master, e) for e in rec.manifest.segments}
    bundle = decrypt_record(
        signed,
        secrets=secrets,
        ciphertexts={n: [s.ciphertext] for n, s in rec.segments.items()},
    )
    manifest = copy.deepcopy(signed["manifest"])
    manifest["record_id"] = "r_resigned"
    return {
        "material": export_secret_keys(km),
        "signed_manifest": signed,
        "ciphertexts": {n: s.ciphertext.hex() for n, s in rec.segments.items()},
        "tags": {n: s.tags for n, s in rec.segments.items()},
        "bundle": bundle,
        "resign": {"manifest": manifest, "signature": sign_document(km.user.signing, manifest)},
    }


def grant_vectors() -> dict[str, Any]:
    km = material("patient", patient=True)
    doctor = material("doctor", patient=False)
    assert km.master is not None
    sks, nodes = _nodes("grant-nodes")
    grant = make_grant(
        km.master,
        km.user.signing,
        patient_id="usr_patient",
        grantee_id="usr_doctor",
        grantee_pk=doctor.user.pre.public_key(),
        segment="labs",
        key_version=1,
        nodes=[SrsNode(n["id"], sk.public_key()) for n, sk in zip(nodes, sks, strict=True)],
        threshold=2,
        grant_id="g_vector/labs/v1",
        expires_at="2026-06-30T00:00:00+00:00",
        purpose="treatment",
    )
    return {
        "patient": export_secret_keys(km),
        "doctor": export_secret_keys(doctor),
        "nodes": nodes,
        "signed_grant": grant.signed.model_dump(mode="json"),
        "sealed_kfrags": {n: b64u_encode(s) for n, s in grant.sealed_kfrags.items()},
    }


def _event(i: int) -> dict[str, Any]:
    return {"id": f"ev-{i}", "type": "phr.access.v1", "subject": "usr_patient", "n": i}


def ledger_vectors() -> dict[str, Any]:
    events = [_event(i) for i in range(11)]
    from phr.crypto.canonical import canonical_json

    leaves = [merkle.leaf_hash(canonical_json(e)) for e in events]

    def get_for(size: int) -> merkle.NodeReader:
        def get(level: int, index: int) -> bytes:
            lo = index << level
            return merkle.root_from_leaf_hashes(leaves[lo : min(lo + (1 << level), size)])

        return get

    size = len(leaves)
    root = merkle.root_from_leaf_hashes(leaves)
    key = SigningKey.from_seed(stream("ledger")(32))
    note = Checkpoint("phr-ledger", size, root).sign("phr-ledger", key)
    other = SigningKey.from_seed(stream("witness")(32))
    cosigned = note + Checkpoint("phr-ledger", size, root).sign("witness", other).split("\n\n")[1]
    entries = [
        {
            "event_id": e["id"],
            "height": 1,
            "leaf_index": i,
            "tree_size": size,
            "root_hash": root.hex(),
            "hashes": [h.hex() for h in merkle.inclusion_proof(i, size, get_for(size))],
            "event": e,
        }
        for i, e in enumerate(events)
    ]
    consistency = []
    for old in range(1, size + 1):
        consistency.append(
            {
                "old": old,
                "new": size,
                "old_root": merkle.root_from_leaf_hashes(leaves[:old]).hex(),
                "hashes": [h.hex() for h in merkle.consistency_proof(old, size, get_for(size))],
            }
        )
    return {
        "origin": "phr-ledger",
        "public_key": key.verify_key.b64(),
        "root": root.hex(),
        "size": size,
        "checkpoint": note,
        "cosigned_checkpoint": cosigned,
        "forged_checkpoint": note.replace(f"\n{size}\n", f"\n{size + 1}\n"),
        "trail": {
            "subject": "usr_patient",
            "checkpoint": note,
            "tree_size": size,
            "entries": entries,
        },
        "consistency": consistency,
        "leaf_sha256_of_first_event": hashlib.sha256(canonical_json(events[0])).hexdigest(),
    }
