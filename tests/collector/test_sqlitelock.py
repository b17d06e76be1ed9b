"""The SQLite writer lock: held exactly while a connection writes, across threads and processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from collector.db import make_engine, sqlite_url
from collector.sqlitelock import LockingConnection, connection_factory


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "lock.db"
    with sqlite3.connect(path) as plain:
        plain.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    return path


def connect(database: Path, timeout: float = 5.0) -> LockingConnection:
    factory = connection_factory(database, timeout)
    connection = sqlite3.connect(database, factory=factory, timeout=timeout)
    assert isinstance(connection, LockingConnection)
    return connection


def held_elsewhere(database: Path) -> bool:
    """Tell whether some open file holds the writer lock (tried from a file of our own)."""
    fd = os.open(database.with_name(database.name + "-writer.lock"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_taken_at_the_first_write_and_released_when_the_transaction_ends(
    database: Path, end: str
) -> None:
    connection = connect(database)
    connection.execute("SELECT count(*) FROM t").fetchall()
    assert not connection.holding
    assert not held_elsewhere(database)
    connection.execute("INSERT INTO t (who) VALUES ('a')")
    assert connection.holding
    assert held_elsewhere(database)
    getattr(connection, end)()
    assert not held_elsewhere(database)


def test_a_savepoint_holds_it_until_the_outermost_release(database: Path) -> None:
    connection = connect(database)
    connection.execute("SAVEPOINT one")
    connection.execute("INSERT INTO t (who) VALUES ('a')")
    connection.execute("SAVEPOINT two")
    connection.execute("RELEASE two")
    assert held_elsewhere(database)
    connection.execute("RELEASE one")
    assert not connection.in_transaction
    assert not held_elsewhere(database)
    assert connection.execute("SELECT who FROM t").fetchall() == [("a",)]


def test_a_failed_write_does_not_keep_it(database: Path) -> None:
    connection = connect(database)
    with pytest.raises(sqlite3.OperationalError):
        connection.execute("INSERT INTO nowhere VALUES (1)")
    assert not held_elsewhere(database)


def test_one_thread_writing_on_two_connections_fails_instead_of_hanging(database: Path) -> None:
    factory = connection_factory(database, 0.2)
    first = sqlite3.connect(database, factory=factory, timeout=0.2)
    second = sqlite3.connect(database, factory=factory, timeout=0.2)
    first.execute("INSERT INTO t (who) VALUES ('a')")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.execute("INSERT INTO t (who) VALUES ('b')")
    first.commit()
    second.execute("INSERT INTO t (who) VALUES ('b')")
    second.commit()
    assert first.execute("SELECT count(*) FROM t").fetchone() == (2,)


def _writer(url: str, who: int, rows: int) -> None:
    engine = make_engine(url)
    for i in range(rows):
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": f"{who}-{i}"})
    engine.dispose()


@pytest.fixture
def forked() -> multiprocessing.context.ForkContext:
    return multiprocessing.get_context("fork")


def test_processes_and_threads_commit_everything_through_one_engine_each(
    database: Path, forked: multiprocessing.context.ForkContext
) -> None:
    url = sqlite_url(database)
    engine = make_engine(url)  # Opened before the fork: each child must take a lock of its own.
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t (who) VALUES ('parent')"))
    children = [forked.Process(target=_writer, args=(url, n, 150)) for n in range(4)]
    for child in children:
        child.start()
    _writer(url, 9, 150)
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT who FROM t")).scalars().all()
    assert len(rows) == len(set(rows)) == 1 + 5 * 150
    assert not held_elsewhere(database)
