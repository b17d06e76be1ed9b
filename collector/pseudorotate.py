"""Pseudonym-key rotation: a resumable job that re-derives every live subject's pseudonym.

Start: a ``pending`` pseudonym key version is created. Then batches, each its own transaction:
live subjects still on an older version have their original unsealed, re-normalised and
re-pseudonymised under the pending key. Last: the pending key becomes ``active``, the old one
``retired``. A job killed at any point is finished by running it again; meanwhile intake looks a
value up under both versions, so linkage holds throughout. Erased subjects cannot be re-derived
(their originals are gone) and keep their old pseudonym.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import audit, keyring, vault
from collector.audit import Actor
from collector.db import transaction
from collector.models import ProjectKey, Subject, utcnow

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RotationResult:
    project_id: int
    version: int
    rederived: int
    kept_erased: int


def _pending(session: Session, secrets: vault.Secrets, project_id: int, actor: Actor) -> ProjectKey:
    pending = session.scalars(
        select(ProjectKey).where(
            ProjectKey.project_id == project_id,
            ProjectKey.purpose == vault.PSEUDONYM,
            ProjectKey.state == "pending",
        )
    ).first()
    if pending is not None:
        return pending
    secrets.versions(session, project_id, vault.PSEUDONYM)  # Creates version 1 if missing.
    top = (
        session.scalar(
            select(func.max(ProjectKey.version)).where(
                ProjectKey.project_id == project_id, ProjectKey.purpose == vault.PSEUDONYM
            )
        )
        or 0
    )
    row = vault.new_key(session, project_id, vault.PSEUDONYM, top + 1, "pending", secrets.kek)
    audit.record(
        session, actor, "pseudonym.rotate.start", project_id=project_id, version=row.version
    )
    return row


def _remaining(session: Session, project_id: int, version: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Subject.project_id == project_id,
                Subject.erased_at.is_(None),
                Subject.key_version != version,
            )
        )
        or 0
    )


def _batch(session: Session, secrets: vault.Secrets, key_row: ProjectKey, size: int) -> int:
    stmt = (
        select(Subject)
        .where(
            Subject.project_id == key_row.project_id,
            Subject.erased_at.is_(None),
            Subject.key_version != key_row.version,
        )
        .order_by(Subject.id)
        .limit(size)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    key = next(
        secrets.hasher(k.key)
        for k in secrets.versions(session, key_row.project_id, vault.PSEUDONYM)
        if k.version == key_row.version
    )
    subjects = list(session.scalars(stmt))
    for subject in subjects:
        vault.rederive(key_row, key, secrets.kek, subject)
    return len(subjects)


def rotate(
    sessions: sessionmaker[Session],
    kek: bytes,
    project_id: int,
    *,
    actor: Actor = audit.SYSTEM,
    batch: int = 500,
    progress: Progress | None = None,
) -> RotationResult:
    """Run (or resume) the rotation of a project's pseudonym key to completion."""
    secrets = vault.Secrets(kek, ttl=0)
    with transaction(sessions) as session:
        keyring.get_project(session, project_id)
        key_row = _pending(session, secrets, project_id, actor)
        version = key_row.version
        total = _remaining(session, project_id, version)
    done = 0
    while True:
        with transaction(sessions) as session:
            key_row = session.scalars(
                select(ProjectKey).where(
                    ProjectKey.project_id == project_id,
                    ProjectKey.purpose == vault.PSEUDONYM,
                    ProjectKey.version == version,
                )
            ).one()
            count = _batch(session, secrets, key_row, batch)
        if count == 0:
            break
        done += count
        if progress:
            progress(done, total)
    return _finish(sessions, project_id, version, done, actor)


def _finish(
    sessions: sessionmaker[Session], project_id: int, version: int, done: int, actor: Actor
) -> RotationResult:
    with transaction(sessions) as session:
        keys = list(
            session.scalars(
                select(ProjectKey).where(
                    ProjectKey.project_id == project_id, ProjectKey.purpose == vault.PSEUDONYM
                )
            )
        )
        new = next(k for k in keys if k.version == version)
        if new.state == "pending":
            for old in keys:
                if old.state == "active":
                    old.state = "retired"
            session.flush()
            new.state = "active"
            new.activated_at = utcnow()
        erased = int(
            session.scalar(
                select(func.count()).where(
                    Subject.project_id == project_id, Subject.erased_at.is_not(None)
                )
            )
            or 0
        )
        audit.record(
            session,
            actor,
            "pseudonym.rotate.finish",
            project_id=project_id,
            version=version,
            rederived=done,
            kept_erased=erased,
        )
    return RotationResult(project_id, version, done, erased)
