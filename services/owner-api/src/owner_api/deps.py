"""owner-api's typed lifespan state and the annotated dependencies its routes read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from owner_api.records.service import RecordService
from owner_api.sharing.delegations import DelegationService
from owner_api.sharing.grants import GrantService
from owner_api.sharing.keys import KeyService
from owner_api.store import RecordStore
from phr.service.state import state_part


@dataclass(frozen=True)
class OwnerState:
    """What owner-api's lifespan yields (built by ``owner_api.main``'s setup)."""

    records: RecordService
    store: RecordStore
    grants: GrantService
    keys: KeyService
    delegations: DelegationService


RecordsDep = Annotated[RecordService, Depends(state_part(OwnerState, lambda s: s.records))]
StoreDep = Annotated[RecordStore, Depends(state_part(OwnerState, lambda s: s.store))]
GrantsDep = Annotated[GrantService, Depends(state_part(OwnerState, lambda s: s.grants))]
KeysDep = Annotated[KeyService, Depends(state_part(OwnerState, lambda s: s.keys))]
DelegationsDep = Annotated[
    DelegationService, Depends(state_part(OwnerState, lambda s: s.delegations))
]
