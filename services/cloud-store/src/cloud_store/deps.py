"""cloud-store's typed lifespan state and the annotated dependencies its routes read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from cloud_store.settings import Settings
from cloud_store.store import BlobStorage, TagStore
from phr.service.state import state_part


@dataclass(frozen=True)
class CloudState:
    """What cloud-store's lifespan yields (built by ``cloud_store.main``'s setup)."""

    blobs: BlobStorage
    index: TagStore
    settings: Settings


BlobsDep = Annotated[BlobStorage, Depends(state_part(CloudState, lambda s: s.blobs))]
IndexDep = Annotated[TagStore, Depends(state_part(CloudState, lambda s: s.index))]
SettingsDep = Annotated[Settings, Depends(state_part(CloudState, lambda s: s.settings))]
