"""Fixtures shared by every room's tests.

Databases: every test that asks for ``database_url`` gets a fresh, empty database: an SQLite
file in its temp dir, or, when ``COLLECTOR_TEST_DATABASE_URL`` is set, a schema of its own on
that PostgreSQL server (dropped afterwards). The same tests therefore run on both.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from collector.db import make_engine, migrate, session_factory
from tests.support.databases import PG_ENV, fresh_database

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT.parent / "shared" / "vectors"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(PG_ENV):
        return
    skip = pytest.mark.skip(reason=f"PostgreSQL only: set {PG_ENV}")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The real-producer vectors in ../shared/vectors (ground truth for the crypto)."""
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors not found at {VECTORS}: clone the project beside shared/")
    return VECTORS


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A URL to a fresh, empty database for this test alone."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated database."""
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session on the migrated database; whatever the test leaves uncommitted is rolled back."""
    with session_factory(db_engine)() as session:
        yield session
        session.rollback()


@pytest.fixture
def kek() -> bytes:
    """A random master key for this test."""
    return secrets.token_bytes(32)
