"""App factory: `SRS_NODE_ID=srs-1 uvicorn srs.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI

import srs
from phr.service.app import create_service_app
from srs.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        # Each node signs as itself, so the ledger can tell which node decided what.
        name=settings.node_id,
        package="srs",
        settings=settings,
        auth=True,
        description=srs.__doc__ or "",
    )
