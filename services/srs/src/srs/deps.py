"""Annotated dependencies of the node's routes: its store, handlers and re-encryptor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from srs.handlers import HandlerStats
from srs.reencrypt import Reencryptor
from srs.store import Store
from srs.verification import NodeIdentity


def get_store(request: Request) -> Store:
    store: Store = request.state.srs_store
    return store


def get_reencryptor(request: Request) -> Reencryptor:
    reencryptor: Reencryptor = request.state.srs_reencryptor
    return reencryptor


def get_node(request: Request) -> NodeIdentity:
    node: NodeIdentity = request.state.srs_node
    return node


def get_stats(request: Request) -> HandlerStats:
    stats: HandlerStats = request.state.srs_stats
    return stats


StoreDep = Annotated[Store, Depends(get_store)]
ReencryptorDep = Annotated[Reencryptor, Depends(get_reencryptor)]
NodeDep = Annotated[NodeIdentity, Depends(get_node)]
StatsDep = Annotated[HandlerStats, Depends(get_stats)]
