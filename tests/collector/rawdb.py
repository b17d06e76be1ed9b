"""Read a whole test database as raw bytes, to search it for things that must not be there."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url


def raw_database_bytes(engine: Engine, database_url: str) -> bytes:
    """Return the SQLite file (with its WAL) or a pg_dump of the test schema."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine.dispose()
        path = Path(url.database or "")
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    schema = str(url.query.get("options", "")).split("=", 1)[-1]
    command = [
        "pg_dump",
        "--no-owner",
        "--schema",
        schema,
        "--host",
        url.host or "127.0.0.1",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
        url.database or "test",
    ]
    return subprocess.run(command, check=True, capture_output=True).stdout
