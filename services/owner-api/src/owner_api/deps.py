"""Annotated dependencies of owner-api's routes."""

from __future__ import annotations

from typing import Annotated

from owner_api.delegations import DelegationService
from owner_api.grants import GrantService
from owner_api.keys import KeyService
from owner_api.records import RecordService
from owner_api.store import RecordStore
from phr.service.deps import from_state

RecordsDep = Annotated[RecordService, from_state("records")]
StoreDep = Annotated[RecordStore, from_state("store")]


GrantsDep = Annotated[GrantService, from_state("grants")]
KeysDep = Annotated[KeyService, from_state("keys")]
DelegationsDep = Annotated[DelegationService, from_state("delegations")]
