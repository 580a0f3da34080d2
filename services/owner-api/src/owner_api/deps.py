"""Annotated dependencies of owner-api's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
