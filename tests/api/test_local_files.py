"""Local files: the data dir, the SQLite database beside it and exports are the owner's only.

Whatever the umask the command starts with: the database holds password hashes, sealed keys
and the audit log; an export may be re-identified.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from collector.db import make_engine, sqlite_url
from tests.api.conftest import Invoke
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """The usual umask (022), as a shell gives it; put back afterwards."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def data_dir(cli_env: dict[str, str]) -> Path:
    return Path(cli_env["COLLECTOR_DATA_DIR"])


@pytest.fixture
def cli_default(cli: Invoke, database_url: str) -> Invoke:
    """``cli`` with the default database (SQLite in the data dir) unless on PostgreSQL."""
    on_sqlite = database_url.startswith("sqlite")

    def invoke(*args: str) -> str:
        result = cli(*args, env={"COLLECTOR_DATABASE_URL": ""} if on_sqlite else {})
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def current_umask() -> int:
    found = os.umask(0o022)
    os.umask(found)
    return found


def test_the_data_dir_database_and_exports_are_the_owners_only(
    cli_default: Invoke, data_dir: Path, database_url: str, tmp_path: Path
) -> None:
    cli_default("init")
    project = cli_default("projects", "create", "Field").strip()
    xlsx = tmp_path / "field_visit.xlsx"
    xlsx.write_bytes(md_to_xlsx(FIELD_VISIT))
    cli_default("forms", "publish", str(xlsx), "--project", project)
    qr = tmp_path / "qr.png"
    cli_default(
        "app-users", "create", "--project", project, "T", "--forms", "field_visit", "--qr", str(qr)
    )
    out = tmp_path / "field_visit.xlsx.out"
    stale = out.with_name(out.name + ".partial")  # an interrupted export's, world-readable
    stale.write_bytes(b"old rows")
    stale.chmod(0o644)
    cli_default("export", "--project", project, "--form", "field_visit", "--format", "xlsx",
                "--out", str(out))  # fmt: skip
    assert mode(out) == 0o600
    assert mode(qr) == 0o600
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "keys") == 0o700
    assert mode(data_dir / "keys" / "master.key") == 0o600
    assert current_umask() == 0o022  # the command's umask ended with it
    if not database_url.startswith("sqlite"):
        return
    db = data_dir / "collector.db"
    assert mode(db) == 0o600
    # A connection of this process (umask 022) makes the -wal and -shm: as private as the db.
    engine = make_engine(sqlite_url(db))
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE projects SET name = 'Field' WHERE id = 1"))
            assert mode(data_dir / "collector.db-wal") == 0o600
            assert mode(data_dir / "collector.db-shm") == 0o600
    finally:
        engine.dispose()


def test_an_existing_looser_data_dir_is_tightened_when_opened(
    cli_default: Invoke, data_dir: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cli_default("init")
    data_dir.chmod(0o755)
    (data_dir / "keys").chmod(0o755)
    db = data_dir / "collector.db"
    if db.exists():
        db.chmod(0o644)
    with caplog.at_level(logging.INFO, logger="api.config"):
        cli_default("projects", "list")
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "keys") == 0o700
    tightened = [r for r in caplog.records if r.name == "api.config" and "tightened" in r.message]
    assert all(r.levelno == logging.INFO for r in tightened)
    assert f"tightened {data_dir} from mode 755 to 700" in [r.message for r in tightened]
    if database_url.startswith("sqlite"):
        assert mode(db) == 0o600
        assert len(tightened) == 3


def test_a_directory_that_is_not_the_projects_is_left_as_it_is(cli: Invoke, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "notes.txt").write_text("somebody else's")
    env = {"COLLECTOR_DATA_DIR": str(shared), "COLLECTOR_MASTER_KEY": "A" * 43 + "="}
    result = cli("init", env=env)
    assert result.exit_code == 0, result.output
    assert mode(shared) == 0o755
