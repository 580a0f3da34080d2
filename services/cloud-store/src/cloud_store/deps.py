"""cloud-store's typed lifespan state and the annotated dependencies its routes read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from cloud_store.blobs import BlobStore
from cloud_store.index import TagIndex
from cloud_store.settings import Settings
from phr.service.state import state_part


@dataclass(frozen=True)
class CloudState:
    """What cloud-store's lifespan yields (built by ``cloud_store.main``'s setup)."""

    blobs: BlobStore
    index: TagIndex
    settings: Settings


BlobsDep = Annotated[BlobStore, Depends(state_part(CloudState, lambda s: s.blobs))]
IndexDep = Annotated[TagIndex, Depends(state_part(CloudState, lambda s: s.index))]
SettingsDep = Annotated[Settings, Depends(state_part(CloudState, lambda s: s.settings))]
