"""MongoDB through PyMongo's async API; one database per service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from phr.service.settings import MongoSettings

Document = dict[str, Any]


@asynccontextmanager
async def mongo_database(
    settings: MongoSettings, app_name: str
) -> AsyncIterator[AsyncDatabase[Document]]:
    """Open a client for the service's own database; closed on exit.

    The client reconnects by itself after mongod comes back, so readiness recovers
    without a restart.
    """
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.url,
        appname=app_name,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        connectTimeoutMS=settings.server_selection_timeout_ms,
        tz_aware=True,
        **settings.credentials(),
    )
    try:
        yield client[settings.database]
    finally:
        await client.close()


async def ping(db: AsyncDatabase[Document], timeout: float) -> None:
    """Raise unless the server answers within ``timeout`` seconds."""
    await asyncio.wait_for(db.command("ping"), timeout)
