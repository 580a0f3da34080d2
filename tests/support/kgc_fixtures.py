"""Fixtures for tests that need identities: a KGC client, the operator, an organisation.

Imported by tests/conftest.py, so any test can ask for ``kgc``, ``operator_token`` or
``hospital``; see tests/support/identity.py for enrolling users and logging them in.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.identity import KgcClient, load_operator, service_url


@pytest.fixture(scope="session")
async def kgc_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client


@pytest.fixture(scope="session")
def kgc(stack: Any, kgc_http: httpx.AsyncClient) -> KgcClient:
    return KgcClient(kgc_http, service_url(stack, "kgc"))


@pytest.fixture
async def operator_token(stack: Any, kgc: KgcClient) -> str:
    """A fresh access token of the operator (the admin the KGC created at first start)."""
    return await kgc.login(load_operator(stack))


@pytest.fixture
async def hospital(kgc: KgcClient, operator_token: str) -> str:
    """A new hospital's organisation id."""
    return await kgc.create_org(operator_token, f"Hospital {secrets.token_hex(4)}", "hospital")


@pytest.fixture
async def auditor_token(kgc: KgcClient, operator_token: str) -> str:
    """A token of a new auditor: enrolled into an audit office, approved by the operator
    (the only one who may approve an auditor)."""
    office = await kgc.create_org(operator_token, f"Audit {secrets.token_hex(4)}", "hospital")
    auditor = await kgc.staff(operator_token, "auditor", office)
    return await kgc.login(auditor)
