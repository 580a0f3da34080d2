"""Annotated dependencies of the node's routes: its store, handlers and re-encryptor."""

from __future__ import annotations

from typing import Annotated

from phr.service.deps import from_state
from srs.handlers import HandlerStats
from srs.reencrypt import Reencryptor
from srs.store import Store
from srs.verification import NodeIdentity

StoreDep = Annotated[Store, from_state("srs_store")]
ReencryptorDep = Annotated[Reencryptor, from_state("srs_reencryptor")]
NodeDep = Annotated[NodeIdentity, from_state("srs_node")]
StatsDep = Annotated[HandlerStats, from_state("srs_stats")]
