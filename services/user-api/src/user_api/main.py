"""App factory: `uvicorn user_api.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI

import user_api
from phr.service.app import create_service_app
from user_api.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        name="user-api",
        package="user-api",
        settings=settings,
        auth=True,
        description=user_api.__doc__ or "",
    )
