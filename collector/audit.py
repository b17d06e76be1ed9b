"""The audit log: append-only and hash-chained, so an edited or deleted entry is detected.

Each entry's hash is SHA-256 over the previous entry's hash and a canonical JSON of the entry.
Appends serialise on the newest entry (a row lock on PostgreSQL; SQLite has one writer), so
the chain never forks. Details must never hold a secret or a plaintext identifier: callers pass
ids, pseudonyms, counts and reasons.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, and_, cast, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from collector.models import AuditEntry, as_utc, utcnow

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did it: a web user, an app user, the system itself or the command line."""

    type: str
    id: int | None = None
    name: str | None = None
    role: str | None = None


SYSTEM = Actor("system")
CLI = Actor("cli")


def _canonical(entry: AuditEntry) -> bytes:
    payload = {
        "at": as_utc(entry.at).isoformat(timespec="microseconds"),
        "actor_type": entry.actor_type,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "project_id": entry.project_id,
        "subject": entry.subject,
        "details": entry.details,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()


def _digest(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(entry)).hexdigest()


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    project_id: int | None = None,
    subject: str | None = None,
    **details: Any,
) -> AuditEntry:
    """Append an entry in the caller's transaction (it commits or rolls back with the action)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    last = session.scalars(stmt).first()
    entry = AuditEntry(
        at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        project_id=project_id,
        subject=subject,
        details=json.dumps(details, sort_keys=True, ensure_ascii=False, default=str),
        prev_hash=last.hash if last else GENESIS,
    )
    entry.hash = _digest(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Problem:
    """A break in the chain."""

    entry_id: int
    message: str


def verify(session: Session) -> list[Problem]:
    """Recompute the chain; return every entry that was edited, deleted around, or reordered."""
    problems: list[Problem] = []
    prev = GENESIS
    for entry in _entries(session):
        if entry.prev_hash != prev:
            problems.append(Problem(entry.id, "the entry before it was changed or deleted"))
        if _digest(entry.prev_hash, entry) != entry.hash:
            problems.append(Problem(entry.id, "the entry was edited"))
        prev = entry.hash
    return problems


def _entries(session: Session) -> Iterator[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    yield from session.scalars(stmt)


def entries(
    session: Session, *, action: str | None = None, limit: int = 100, offset: int = 0
) -> list[AuditEntry]:
    """Return entries newest first, optionally of one action."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list(session.scalars(stmt))


#: Actions recorded against a submission's source in their details, not as their subject.
_FROM_SUBMISSION = ("entity.create", "entity.update")


def for_submission(
    session: Session, project_id: int, instance_ids: Sequence[str]
) -> list[AuditEntry]:
    """What happened to a submission (any of its versions' instanceIDs), newest first: its own
    entries (created, reviewed, edited, commented, files read, an entity error) and the entity
    changes it made (``details.submission``)."""
    if session.get_bind().dialect.name == "postgresql":
        source = cast(cast(AuditEntry.details, JSON), JSONB)["submission"].astext
    else:
        source = func.json_extract(AuditEntry.details, "$.submission")
    stmt = (
        select(AuditEntry)
        .where(
            AuditEntry.project_id == project_id,
            or_(
                AuditEntry.subject.in_(instance_ids),
                and_(AuditEntry.action.in_(_FROM_SUBMISSION), source.in_(instance_ids)),
            ),
        )
        .order_by(AuditEntry.id.desc())
    )
    return list(session.scalars(stmt))
