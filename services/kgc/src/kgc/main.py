"""App factory: `uvicorn kgc.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from phr.service.app import create_service_app

import kgc
from kgc.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        name="kgc",
        package="kgc",
        settings=settings,
        description=kgc.__doc__ or "",
    )
