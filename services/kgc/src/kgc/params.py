"""The system parameters the KGC publishes, built once at start and signed."""

from __future__ import annotations

from datetime import UTC, datetime

from phr.crypto.signing import SigningKey, VerifyKey
from phr.fhir.segments import SEGMENTS
from phr.identity.params import (
    PublishedKey,
    SignedParams,
    SrsNode,
    SrsParams,
    SystemParams,
    TokenParams,
    sign_params,
)
from phr.service.registry import Registry, RegistryEntry


def _published(entry: RegistryEntry) -> PublishedKey:
    key = VerifyKey.from_b64(entry.ed25519_public)
    return PublishedKey(
        ed25519_public=key.b64(), fingerprint=key.fingerprint(), url=entry.published_url
    )


def build_params(
    key: SigningKey, registry: Registry | None, *, threshold: int, token_ttl_s: int
) -> SignedParams:
    """Sign the parameters; raises ValueError on a threshold the SRS nodes cannot meet."""
    services = registry.services if registry else {}
    nodes = [
        SrsNode(
            id=name,
            url=entry.published_url,
            x25519_public=entry.x25519_public or "",
            ed25519_public=entry.ed25519_public,
        )
        for name, entry in (registry.srs_nodes() if registry else {}).items()
    ]
    if nodes and threshold > len(nodes):
        raise ValueError(f"threshold {threshold} above the {len(nodes)} SRS nodes")
    vk = key.verify_key
    kgc_url = services["kgc"].published_url if "kgc" in services else None
    params = SystemParams(
        issued_at=datetime.now(UTC),
        kgc=PublishedKey(ed25519_public=vk.b64(), fingerprint=vk.fingerprint(), url=kgc_url),
        token=TokenParams(ttl_s=token_ttl_s),
        srs=SrsParams(threshold=threshold, nodes=nodes),
        ledger=_published(services["ledger"]) if "ledger" in services else None,
        services={name: _published(entry) for name, entry in sorted(services.items())},
        segments=list(SEGMENTS),
    )
    return sign_params(params, key)
