from __future__ import annotations

import os
import secrets

import acme
import pytest
from acme_gateway import acme_gateway

from reelay.plugins import Registry, make_plugin_manager


@pytest.fixture
def acme_pm():
    """A plugin manager with only the test vendor, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[acme])


@pytest.fixture
def acme_spec(acme_pm):
    return Registry.collect(acme_pm).emulators[0]


@pytest.fixture
async def gateway(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path) as running:
        yield running


#: The PostgreSQL server the store's tests use (trust auth on this machine); they skip when none answers.
POSTGRES_URL = os.environ.get("REELAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
_postgres_missing: list[str] = []  # why the PostgreSQL tests skip, once found out


@pytest.fixture
async def postgres_url():
    """A PostgreSQL store URL on a schema of its own, dropped after the test."""
    asyncpg = pytest.importorskip("asyncpg", reason="asyncpg is not installed (the test extra has it)")
    if _postgres_missing:
        pytest.skip(_postgres_missing[0])
    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        where = POSTGRES_URL.rpartition("@")[2]
        _postgres_missing.append(f"no PostgreSQL at {where} ({error}); set REELAY_TEST_POSTGRES_URL to run these")
        pytest.skip(_postgres_missing[0])
    schema = f"reelay_test_{secrets.token_hex(6)}"
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}search_path={schema}"
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
