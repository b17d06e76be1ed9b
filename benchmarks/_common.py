"""Shared set-up for the benchmarks: a throw-away database with one published PROFILE form."""

from __future__ import annotations

import hashlib
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from collector.db import make_engine, migrate, session_factory  # noqa: E402
from collector.models import FormVersion, Submission  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402
from tests.support.pipeline import publish  # noqa: E402
from tests.support.xlsform import PROFILE  # noqa: E402


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    """A fresh migrated database: a temp SQLite file, or a schema of its own on the server
    of a PostgreSQL URL (dropped afterwards, so runs start equal)."""
    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp), url or "") as fresh:
        engine = make_engine(fresh)
        migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def published(sessions: sessionmaker[Session], kek: bytes) -> FormVersion:
    """Create a project and publish the PROFILE test form (2048-bit key)."""
    with sessions() as session, session.begin():
        version = publish(session, kek, PROFILE, name="Benchmark")
    return version


def person(n: int) -> tuple[str, str, str, tuple[str, ...]]:
    """A made-up person: name, phone, passport and two household members."""
    return (
        f"Kişi {n} Yılmaz",
        f"+90 532 {n % 1000:03d} {n // 1000 % 100:02d} 00",
        f"U{n:08d}",
        (f"Üye {n} A", f"Üye {n} B"),
    )


def profile_xml(version: FormVersion, n: int, instance_id: str) -> bytes:
    """A PROFILE instance for person n."""
    name, phone, passport, members = person(n)
    household = "".join(
        f"<household><member_name>{m}</member_name><member_age>{9 + i}</member_age></household>"
        for i, m in enumerate(members)
    )
    return (
        f'<data id="profile" version="{version.version}"><full_name>{name}</full_name>'
        f"<phone>{phone}</phone><passport_no>{passport}</passport_no><dob>1990-05-17</dob>"
        "<location>41.0082376 28.9783589 35 4</location><narrative>crossed at night</narrative>"
        "<officer_notes>none</officer_notes><group_size>3</group_size>"
        f"{household}<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def received_rows(session: Session, version: FormVersion, count: int) -> list[int]:
    """Insert ``count`` received submissions (no ciphertext needed here); return their ids."""
    rows = []
    for _ in range(count):
        iid = f"uuid:{secrets.token_hex(16)}"
        rows.append(
            Submission(
                project_id=version.form.project_id,
                form_id=version.form_id,
                form_version_id=version.id,
                instance_id=iid,
                manifest=b"-",
                manifest_md5=hashlib.md5(iid.encode()).hexdigest(),
                expected_parts=1,
                received_parts=1,
            )
        )
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def timed(fn: Callable[[], object]) -> float:
    """Run fn once; return its wall time in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sessions_for(engine: Engine) -> sessionmaker[Session]:
    """The project's session factory for an engine."""
    return session_factory(engine)
