"""A fresh Mongo database per test on the session stack's mongod (for store contracts).

Each test gets a database of its own, dropped afterwards: per-test isolation without a
server of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from phr.service.mongo import Document


@pytest.fixture
async def mongo_db(stack: Any) -> AsyncIterator[AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    name = f"contract_{uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
