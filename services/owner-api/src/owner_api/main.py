"""App factory: `uvicorn owner_api.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from phr.service.app import create_service_app

import owner_api
from owner_api.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        name="owner-api",
        package="owner-api",
        settings=settings,
        description=owner_api.__doc__ or "",
    )
