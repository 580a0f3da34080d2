"""The gateway's CapabilityStatement and SMART configuration: exactly what it serves."""

from __future__ import annotations

from typing import Any, Final

from phr.gateway.smart import ALGORITHMS, SUPPORTED_SCOPES

FHIR_VERSION: Final = "4.0.1"
SMART_SECURITY: Final = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR",
        }
    ],
    "text": "SMART Backend Services (client_credentials, private_key_jwt RS384/ES384)",
}


def capability_statement(
    base_url: str, *, software_version: str, resources: list[dict[str, Any]], batch: bool
) -> dict[str, Any]:
    """R4 CapabilityStatement (kind ``instance``) of the gateway at ``base_url`` (its root;
    the FHIR base is ``base_url/fhir``): ``resources`` are what its mounted routes serve."""
    rest: dict[str, Any] = {
        "mode": "server",
        "security": {
            "service": [SMART_SECURITY],
            "extension": [
                {
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [{"url": "token", "valueUri": f"{base_url}/auth/token"}],
                }
            ],
        },
        "resource": merge_resources(resources),
    }
    if batch:
        rest["interaction"] = [{"code": "transaction"}, {"code": "batch"}]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-01",
        "publisher": "PHR Exchange",
        "kind": "instance",
        "software": {"name": "PHR Exchange hospital gateway", "version": software_version},
        "implementation": {
            "description": "Hospital gateway: records decrypted and encrypted inside the hospital",
            "url": f"{base_url}/fhir",
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }


def merge_resources(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``rest.resource`` per type, its modules' interactions, searches and
    operations together (sorted by type, as R4 lists them)."""
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        into = merged.setdefault(part["type"], {"type": part["type"]})
        for key, value in part.items():
            if isinstance(value, list):
                into.setdefault(key, []).extend(v for v in value if v not in into.get(key, []))
            else:
                into[key] = value
    return [merged[t] for t in sorted(merged)]


def smart_configuration(base_url: str) -> dict[str, Any]:
    """``.well-known/smart-configuration`` for SMART Backend Services."""
    return {
        "issuer": base_url,
        "token_endpoint": f"{base_url}/auth/token",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "capabilities": ["client-confidential-asymmetric", "permission-v2"],
        "code_challenge_methods_supported": [],
    }
