"""KGC logic without servers: login limiter, selectors, leaked-key parsing, parameters."""

from __future__ import annotations

import pytest

from kgc.errors import LoginRateLimited, UnreadableSecret
from kgc.params import build_params
from kgc.tokens import LoginLimiter
from kgc.tracing import leaked_public_keys
from kgc.users import parse_selector
from phr.api.kgc import TraceRequest
from phr.crypto.export import KeyMaterial, export_secret_keys
from phr.crypto.keys import UserKeys
from phr.crypto.signing import SigningKey, b64u_encode
from phr.fhir.segments import SEGMENTS
from phr.identity.params import verify_params
from phr.service.registry import Registry, RegistryEntry


def test_limiter_locks_a_source_after_max_failures_and_tells_when_to_retry() -> None:
    limiter = LoginLimiter(max_failures=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        limiter.check("10.0.0.1", "u_1", now=t)
        limiter.failed("10.0.0.1", "u_1", now=t)
    with pytest.raises(LoginRateLimited) as info:
        limiter.check("10.0.0.1", "u_1", now=3.0)
    assert info.value.retry_after_s == 58  # the first failure leaves the window at t=60
    limiter.check("10.0.0.2", "u_1", now=3.0)  # another source is not affected
    limiter.check("10.0.0.1", "u_2", now=3.0)  # nor the same source for another user
    limiter.check("10.0.0.1", "u_1", now=61.0)  # the window slid past the first failure


def test_a_source_spraying_many_user_ids_is_limited_too() -> None:
    limiter = LoginLimiter(max_failures=2, window_s=60)
    for i in range(20):  # ten times the per-user limit, over twenty ids
        limiter.failed("10.0.0.1", f"u_{i}", now=float(i))
    with pytest.raises(LoginRateLimited):
        limiter.check("10.0.0.1", "u_new", now=21.0)
    limiter.check("10.0.0.2", "u_new", now=21.0)


def test_selector_and_query_parameters_combine() -> None:
    assert parse_selector(
        "role=doctor,org=org_1", role=None, org=None, dept="icu", status=None
    ) == {
        "role": "doctor",
        "organisation_id": "org_1",
        "department": "icu",
    }
    with pytest.raises(ValueError):
        parse_selector("colour=blue", role=None, org=None, dept=None, status=None)


def test_a_raw_secret_and_an_export_yield_the_users_public_keys() -> None:
    keys = UserKeys.generate()
    pub = keys.public()
    raw = leaked_public_keys(TraceRequest(secret_key=b64u_encode(keys.pre.to_bytes())))
    assert pub.pre.fingerprint() in {k.fingerprint for k in raw}
    raw = leaked_public_keys(TraceRequest(secret_key=keys.signing.seed_b64()))
    assert pub.verify.fingerprint() in {k.fingerprint for k in raw}
    export = export_secret_keys(KeyMaterial(user=keys, user_id="u_1"))
    both = {k.fingerprint for k in leaked_public_keys(TraceRequest(key_export=export))}
    assert {pub.pre.fingerprint(), pub.verify.fingerprint()} <= both


@pytest.mark.parametrize(
    "req",
    [
        TraceRequest(),
        TraceRequest(secret_key="c2hvcnQ"),
        TraceRequest(key_export={"format": "something-else"}),
        TraceRequest(secret_key=b64u_encode(b"\0" * 32), key_export={}),
    ],
    ids=["nothing", "short", "foreign-export", "two-at-once"],
)
def test_unreadable_secrets_are_bad_requests(req: TraceRequest) -> None:
    with pytest.raises(UnreadableSecret):
        leaked_public_keys(req)


def test_params_publish_the_registry_and_verify() -> None:
    kgc = SigningKey.generate()
    ledger = SigningKey.generate()
    entries = {
        "kgc": RegistryEntry(url="http://kgc", ed25519_public=kgc.verify_key.b64()),
        "ledger": RegistryEntry(url="http://ledger", ed25519_public=ledger.verify_key.b64()),
    }
    for i in (1, 2, 3):
        k = SigningKey.generate().verify_key.b64()
        entries[f"srs-{i}"] = RegistryEntry(
            url=f"http://srs-{i}", ed25519_public=k, x25519_public=k
        )
    signed = build_params(kgc, Registry(services=entries), threshold=2, token_ttl_s=300)
    params, _ = verify_params(signed.model_dump(mode="json"), None)
    assert [n.id for n in params.srs.nodes] == ["srs-1", "srs-2", "srs-3"]
    assert params.ledger is not None
    assert params.ledger.fingerprint == ledger.verify_key.fingerprint()
    assert set(params.services) == set(entries)
    assert params.segments == list(SEGMENTS)
    with pytest.raises(ValueError, match="threshold"):
        build_params(kgc, Registry(services=entries), threshold=4, token_ttl_s=300)


def test_params_name_public_urls_and_services_keep_internal_ones() -> None:
    kgc = SigningKey.generate()
    key = kgc.verify_key.b64()
    entries = {
        "kgc": RegistryEntry(
            url="http://kgc:8000", public_url="https://phr.example/kgc", ed25519_public=key
        ),
        "cloud-store": RegistryEntry(url="http://cloud-store:8000", ed25519_public=key),
    }
    registry = Registry(services=entries)
    signed = build_params(kgc, registry, threshold=1, token_ttl_s=300)
    assert signed.params.kgc.url == "https://phr.example/kgc"
    assert signed.params.services["kgc"].url == "https://phr.example/kgc"
    # no public URL: the internal one stands
    assert signed.params.services["cloud-store"].url == "http://cloud-store:8000"
    assert registry.url("kgc") == "http://kgc:8000"
