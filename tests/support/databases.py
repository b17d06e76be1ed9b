"""Fresh databases for tests: an SQLite file, or a PostgreSQL schema of its own."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from collector.db import sqlite_url

PG_ENV = "COLLECTOR_TEST_DATABASE_URL"


@contextmanager
def fresh_database(base: Path, pg_url: str | None = None) -> Iterator[str]:
    """A fresh database: SQLite under ``base``, or a schema of its own on PostgreSQL (the
    server of ``pg_url``, by default of COLLECTOR_TEST_DATABASE_URL; "" for SQLite)."""
    pg = os.environ.get(PG_ENV) if pg_url is None else pg_url
    if not pg:
        yield sqlite_url(base / "collector.db")
        return
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(pg)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
