"""One SQLite writer at a time, queued by the operating system instead of by sleeping.

SQLite lets one connection write at a time. A connection that finds the write lock taken
retries under its busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25 … ms between tries: with
several processes committing every millisecond (gunicorn workers taking uploads, decryption
workers storing batches), waiters sleep far longer than the writes they wait for.

Here every write transaction first takes a writer lock: a ``threading.Lock`` between the
threads of a process, then an exclusive ``flock`` on a file beside the database between
processes. A waiter blocks in the kernel and wakes as soon as the holder releases. The lock is
taken at the statement that starts a write (pysqlite opens its transaction there, or at a
SAVEPOINT) and released once the connection is out of its transaction (commit, rollback, the
outermost RELEASE, close). Reads never take it. SQLite's own locking stays in force beneath.

Waiting for the thread lock is bounded by the busy timeout, as SQLite's own wait is: one
thread writing on two connections at once fails with "database is locked" instead of hanging.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Statements that start a write transaction (or may, like SAVEPOINT outside a transaction).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "BEGIN", "CREATE", "DROP", "ALTER")


class WriterLock:
    """The writer lock of one database file, for the threads and processes that open it."""

    def __init__(self, database: Path, timeout: float):
        self.path = database.with_name(database.name + "-writer.lock")
        self.timeout = timeout
        self._pid = -1
        self._fd = -1
        self._threads = threading.Lock()

    def _for_this_process(self) -> int:
        # A forked child must not share its parent's open file (flock would then not tell
        # them apart), nor a thread lock some parent thread held at the fork.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._threads = threading.Lock()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def acquire(self) -> None:
        fd = self._for_this_process()
        if not self._threads.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class _Cursor(sqlite3.Cursor):
    connection: LockingConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        with self.connection.writing(sql):
            super().execute(sql, parameters)
        return self

    def executemany(self, sql: str, parameters: Any, /) -> _Cursor:
        with self.connection.writing(sql):
            super().executemany(sql, parameters)
        return self


class LockingConnection(sqlite3.Connection):
    """A pysqlite connection that holds its database's writer lock while it writes."""

    writer: WriterLock
    holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _Cursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor: _Cursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        cursor: _Cursor = self.cursor()
        return cursor.executemany(sql, parameters)

    @contextmanager
    def writing(self, sql: str) -> Iterator[None]:
        """Around one statement: take the lock if it starts a write; let go once out of it."""
        if not self.holding and sql.lstrip()[:9].upper().startswith(_WRITES):
            self.writer.acquire()
            self.holding = True
        try:
            yield
        finally:
            self.after()

    def after(self) -> None:
        if self.holding and not self.in_transaction:
            self.holding = False
            self.writer.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.holding:
                self.holding = False
                self.writer.release()


def connection_factory(database: Path, timeout: float) -> type[LockingConnection]:
    """A connection class for ``sqlite3.connect(factory=…)`` bound to one database's lock."""
    writer = WriterLock(database, timeout)
    return type("LockingConnection", (LockingConnection,), {"writer": writer})
