"""The hot path reads its growing tables through indexes: no statement scans them whole.

Intake and the decryption worker run a few statements per submission; one that scans the
submissions, their parts or the vault costs a little more with every submission ever received,
which no test of a small database would notice otherwise. Every statement Collect's uploads and
a worker batch run is captured, and SQLite's query plan of each is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from collector.db import make_engine, sqlite_url
from tests.support.collect import CollectClient
from tests.support.site import Sealer, Site, make_app, served_site

GROWING = ("submissions", "submission_parts", "vault_subjects", "submission_records")
FULL_SCAN = re.compile(rf"\bSCAN ({'|'.join(GROWING)})\b")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    # SQLite only: its EXPLAIN QUERY PLAN names every full scan; the plans of PostgreSQL
    # depend on statistics (the statements are the same).
    app = make_app(tmp_path, sqlite_url(tmp_path / "plans.db"))
    with served_site(app) as served:
        yield served


def _capture(engine: Engine) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            seen.append((statement, parameters))

    return seen


def test_uploads_and_a_worker_batch_scan_no_growing_table(site: Site, tmp_path: Path) -> None:
    engine = site.instance.engine
    seen = _capture(engine)
    client = CollectClient(site.server_url, device_id="plans")
    seal = Sealer(client)
    uploads = [seal() for _ in range(24)]
    # Concurrent uploads, so that group commits of several run too.
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda u: client.post(u).status_code, uploads))
    assert statuses == [201] * len(uploads)
    assert site.drain() == len(uploads)
    assert seen, "no statement was captured"
    checker = make_engine(sqlite_url(tmp_path / "plans.db"))
    scans = []
    with checker.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        for statement, parameters in seen:
            params = parameters[0] if isinstance(parameters, list) and parameters else parameters
            plan = raw.execute(f"EXPLAIN QUERY PLAN {statement}", params or ()).fetchall()
            text = " / ".join(str(row[-1]) for row in plan)
            if FULL_SCAN.search(text):
                scans.append(f"{statement.split(chr(10))[0][:120]} -> {text}")
    checker.dispose()
    assert not scans, "\n".join(scans)
