"""``collector audit verify`` detects an edited, deleted or reordered entry."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from collector.db import make_engine
from collector.models import AuditEntry
from tests.api.conftest import Invoke


@pytest.fixture
def audited(initialised: Invoke) -> Invoke:
    project = initialised("projects", "create", "Audited").stdout.strip()
    for _ in range(2):
        assert initialised("keys", "rotate", "--project", project).exit_code == 0
    return initialised


@pytest.mark.parametrize(
    "tamper",
    [
        update(AuditEntry).where(AuditEntry.id == 2).values(details='{"bits": 4096}'),
        update(AuditEntry).where(AuditEntry.id == 3).values(actor_type="system"),
        delete(AuditEntry).where(AuditEntry.id == 2),
    ],
    ids=["edited details", "edited actor", "deleted entry"],
)
def test_audit_verify_catches_tampering(audited: Invoke, database_url: str, tamper: object) -> None:
    intact = audited("audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert intact.stdout.startswith("audit chain intact; head entry ")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(tamper)  # type: ignore[arg-type]
    engine.dispose()
    broken = audited("audit", "verify")
    assert broken.exit_code == 1
    assert "entry 3" in broken.stderr or "entry 2" in broken.stderr
    assert "audit chain is broken" in broken.stderr


def test_audit_list_shows_key_operations(audited: Invoke) -> None:
    listed = audited("audit", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "key.rotate" in listed.stdout
    assert "project.create" in listed.stdout
