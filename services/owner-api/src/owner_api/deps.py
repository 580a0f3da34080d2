"""Annotated dependencies of owner-api's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from owner_api.delegations import DelegationService
from owner_api.grants import GrantService
from owner_api.keys import KeyService
from owner_api.records import RecordService
from owner_api.store import RecordStore


def get_records(request: Request) -> RecordService:
    records: RecordService = request.state.records
    return records


def get_store(request: Request) -> RecordStore:
    store: RecordStore = request.state.store
    return store


RecordsDep = Annotated[RecordService, Depends(get_records)]
StoreDep = Annotated[RecordStore, Depends(get_store)]


def get_grants(request: Request) -> GrantService:
    grants: GrantService = request.state.grants
    return grants


def get_keys(request: Request) -> KeyService:
    keys: KeyService = request.state.keys
    return keys


def get_delegations(request: Request) -> DelegationService:
    delegations: DelegationService = request.state.delegations
    return delegations


GrantsDep = Annotated[GrantService, Depends(get_grants)]
KeysDep = Annotated[KeyService, Depends(get_keys)]
DelegationsDep = Annotated[DelegationService, Depends(get_delegations)]
