"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker

from collector import sqlitelock

Column = ColumnElement[Any] | QueryableAttribute[Any]
BUSY_TIMEOUT = 30.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlite_url(path: Path) -> str:
    """Return the SQLAlchemy URL of an SQLite database file."""
    return f"sqlite:///{path}"


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; FULL sync makes a commit durable before
    # the server acknowledges a submission; the busy timeout turns lock contention into waits;
    # secure delete overwrites what is deleted (an erased subject's keys, destroyed envelopes),
    # which some SQLite builds leave in free pages by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            # Writers queue on a lock the kernel hands over, not on SQLite's sleeping retries.
            factory = sqlitelock.connection_factory(Path(database), BUSY_TIMEOUT)
            kwargs.setdefault("connect_args", {}).setdefault("factory", factory)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic config that runs the project's migrations on this engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the database schema up to the newest migration (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory used by every service."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def schema_is_current(engine: Engine) -> bool:
    """Tell whether the database carries the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def among(column: Column, values: Iterable[Any], dialect: str) -> ColumnElement[bool]:
    """``column IN (values)``, written for the dialect (see ``among_param``)."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def among_param(column: Column, name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN (:name)`` for a statement built once, the list bound at each execution.

    On PostgreSQL this is ``column = ANY(:name)`` with one array parameter: an IN list of a
    hundred values is a query of a hundred placeholders, which psycopg parses in Python on
    every execution (it caches only short queries). Use it on the leading column of an
    index: there the array is searched through the index, also under the generic plan the
    server settles on once psycopg prepares the statement; as a mere filter it would be
    searched linearly for every row.
    """
    if dialect == "postgresql":
        param: BindParameter[Any] = bindparam(name, type_=ARRAY(column.type))
        return column == any_(param)
    return column.in_(bindparam(name, expanding=True))
