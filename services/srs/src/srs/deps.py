"""One node's typed lifespan state and the annotated dependencies its routes read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from phr.service.state import state_part
from srs.handlers import HandlerStats
from srs.reencrypt import Reencryptor
from srs.store import Store
from srs.verification import NodeIdentity


@dataclass(frozen=True)
class SrsState:
    """What a node's lifespan yields (built by ``srs.main``'s setup)."""

    node: NodeIdentity
    #: the node's Ed25519 public key (base64url), which signs its answers and events
    signing_public: str
    store: Store
    stats: HandlerStats
    reencryptor: Reencryptor


StateDep = Annotated[SrsState, Depends(state_part(SrsState, lambda s: s))]
StoreDep = Annotated[Store, Depends(state_part(SrsState, lambda s: s.store))]
ReencryptorDep = Annotated[Reencryptor, Depends(state_part(SrsState, lambda s: s.reencryptor))]
NodeDep = Annotated[NodeIdentity, Depends(state_part(SrsState, lambda s: s.node))]
StatsDep = Annotated[HandlerStats, Depends(state_part(SrsState, lambda s: s.stats))]
