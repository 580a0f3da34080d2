"""Mappers of owner-api's grant and delegation documents to their wire bodies."""

from __future__ import annotations

from phr.api.owner import DelegationOut, GrantOut
from phr.service.mongo import Document


def grant_from_doc(doc: Document) -> GrantOut:
    return GrantOut.model_validate({k: doc.get(k) for k in GrantOut.model_fields})


def delegation_from_doc(doc: Document) -> DelegationOut:
    return DelegationOut.model_validate({k: doc.get(k) for k in DelegationOut.model_fields})
