"""Mappers of the KGC's documents to their wire bodies (``phr.api.kgc``)."""

from __future__ import annotations

from phr.api.kgc import OrgView, UserView
from phr.service.mongo import Document


def user_view_from_doc(doc: Document) -> UserView:
    return UserView(
        user_id=doc["_id"],
        role=doc["role"],
        organisation_id=doc.get("organisation_id"),
        department=doc.get("department"),
        display_name=doc.get("display_name"),
        status=doc["status"],
        ed25519_public=doc["ed25519_public"],
        umbral_public=doc["umbral_public"],
        ed25519_fingerprint=doc["ed25519_fp"],
        umbral_fingerprint=doc["umbral_fp"],
        credential=doc.get("credential"),
    )


def org_view_from_doc(doc: Document) -> OrgView:
    return OrgView(organisation_id=doc["_id"], name=doc["name"], kind=doc["kind"])
