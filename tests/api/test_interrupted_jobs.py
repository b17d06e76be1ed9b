"""kill -9 in the middle of a master-key rewrap or a pseudonym-key rotation loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.config import Instance, Settings
from collector import keyring
from collector.db import transaction
from collector.models import ProjectKey, Subject
from tests.api.test_cli_keys import briefcase_dir
from tests.collector.test_vault import profile
from tests.support.pipeline import process_all, publish, submit
from tests.support.server import collector_command
from tests.support.xlsform import PROFILE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


@pytest.fixture
def project(env: dict[str, str], tmp_path: Path, vectors: Path) -> int:
    """A project with an imported Briefcase key and 12 processed, pseudonymised profiles."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=env["COLLECTOR_DATABASE_URL"], rsa_bits=2048
    )
    instance = Instance(settings, create=True)
    with transaction(instance.sessions) as session:
        version = publish(session, instance.kek, PROFILE)
        project_id = version.form.project_id
        pem = (vectors / "briefcase" / "encrypted-form-key.pem").read_bytes()
        keyring.import_pem(session, project_id, instance.kek, pem)
    with instance.sessions() as session:
        for n in range(12):
            submit(session, version, profile(f"Kişi {n}", f"+90 532 000 00 {n:02d}", f"U{n}"))
    process_all(instance.sessions, instance.kek)
    instance.close()
    return project_id


def cli(
    env: dict[str, str], *args: str, crash_at: tuple[str, int] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [*collector_command(), *args]
    if crash_at is not None:
        command = [
            sys.executable,
            "-m",
            "tests.support.crash",
            crash_at[0],
            str(crash_at[1]),
            "--",
            *args,
        ]
    return subprocess.run(
        command,
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_everything_opens(
    env: dict[str, str], project_id: int, vectors: Path, tmp_path: Path
) -> None:
    where = tmp_path / f"check-{os.urandom(4).hex()}"
    where.mkdir()
    src = briefcase_dir(vectors, where)
    out = tmp_path / f"out-{os.urandom(4).hex()}"
    done = cli(env, "decrypt", str(src), "--out", str(out), "--project", str(project_id))
    assert done.returncode == 0, done.stderr
    with Instance(
        Settings(
            data_dir=Path(env["COLLECTOR_DATA_DIR"]), database_url=env["COLLECTOR_DATABASE_URL"]
        )
    ) as instance:
        with instance.sessions() as session:
            token = session.scalars(select(Subject.pseudonym).order_by(Subject.id)).first()
    shown = cli(
        env,
        "vault",
        "reveal",
        str(token),
        "--project",
        str(project_id),
        "--reason",
        "check after recovery",
    )
    assert shown.returncode == 0, shown.stderr
    assert "Kişi 0" in shown.stdout
    exported = cli(
        env,
        "export",
        "--project",
        str(project_id),
        "--form",
        "profile",
        "--out",
        str(tmp_path / f"export-{os.urandom(4).hex()}.csv.zip"),
    )
    assert exported.returncode == 0, exported.stderr


@pytest.mark.slow
def test_rewrap_killed_mid_transaction_then_rerun(
    env: dict[str, str], project: int, vectors: Path, tmp_path: Path
) -> None:
    key_file = Path(env["COLLECTOR_DATA_DIR"]) / "keys" / "master.key"
    before = key_file.read_bytes()
    killed = cli(env, "keys", "rewrap", crash_at=("keys.seal:seal", 20))
    assert killed.returncode == -signal.SIGKILL
    assert key_file.read_bytes() == before
    assert_everything_opens(env, project, vectors, tmp_path)
    again = cli(env, "keys", "rewrap")
    assert again.returncode == 0, again.stderr
    assert key_file.read_bytes() != before
    assert_everything_opens(env, project, vectors, tmp_path)


@pytest.mark.slow
def test_rewrap_killed_before_the_key_file_swap_recovers(
    env: dict[str, str], project: int, vectors: Path, tmp_path: Path
) -> None:
    key_file = Path(env["COLLECTOR_DATA_DIR"]) / "keys" / "master.key"
    before = key_file.read_bytes()
    killed = cli(env, "keys", "rewrap", crash_at=("api.cli_keys:promote_key_file", 1))
    assert killed.returncode == -signal.SIGKILL
    staged = key_file.with_name("master.key.next").read_bytes()
    assert key_file.read_bytes() == before  # The database committed; the files did not move.
    assert_everything_opens(env, project, vectors, tmp_path)
    assert key_file.read_bytes() == staged
    assert not key_file.with_name("master.key.next").exists()


@pytest.mark.slow
def test_pseudonym_rotation_killed_then_rerun(
    env: dict[str, str], project: int, vectors: Path, tmp_path: Path
) -> None:
    def versions() -> dict[int, int]:
        with Instance(
            Settings(
                data_dir=Path(env["COLLECTOR_DATA_DIR"]), database_url=env["COLLECTOR_DATABASE_URL"]
            )
        ) as instance:
            with instance.sessions() as session:
                rows = session.execute(
                    select(Subject.key_version, func.count()).group_by(Subject.key_version)
                ).all()
                assert session.scalar(
                    select(func.count()).where(ProjectKey.state == "pending")
                ) in (0, 1)
        return dict(rows)

    total = sum(versions().values())
    killed = cli(
        env,
        "vault",
        "rotate-key",
        "--project",
        str(project),
        "--batch",
        "5",
        crash_at=("collector.vault:rederive", 13),
    )
    assert killed.returncode == -signal.SIGKILL
    assert versions() == {1: total - 10, 2: 10}  # Two batches committed, the third lost.
    assert_everything_opens(env, project, vectors, tmp_path)
    done = cli(env, "vault", "rotate-key", "--project", str(project), "--batch", "5")
    assert done.returncode == 0, done.stderr
    assert versions() == {2: total}
    assert_everything_opens(env, project, vectors, tmp_path)
