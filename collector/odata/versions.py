"""Logical submissions: OData shows each one once, as its current version, named by its first.

An edit stores a new version linked to the first (``root_id``); only the newest is ``current``.
Central's OData row of an edited submission is the current version's data under the first
version's instanceID, with the first version's submission date, submitter and review state,
and ``edits`` counting the versions after the first. The SQL here says the same for filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from collector.models import Submission

_FIRST = aliased(Submission, name="first_version")
CURRENT = Submission.current.is_(True)


def logical(name: str) -> ColumnElement[Any]:
    """Return a column of the logical submission (its first version) as an SQL expression."""
    first_value = (
        select(getattr(_FIRST, name)).where(_FIRST.id == Submission.root_id).scalar_subquery()
    )
    return case((Submission.root_id.is_(None), getattr(Submission, name)), else_=first_value)


def submitter() -> ColumnElement[Any]:
    """Return the logical submission's submitter: its app user, else the web user who sent it."""
    return func.coalesce(logical("submitter_id"), logical("creator_user_id"))


def named(form_id: int, instance_id: str) -> ColumnElement[bool]:
    """Match the versions of the logical submission an instanceID names."""
    first = (
        select(_FIRST.id)
        .where(
            _FIRST.form_id == form_id,
            _FIRST.instance_id == instance_id,
            _FIRST.root_id.is_(None),
        )
        .scalar_subquery()
    )
    return or_(
        and_(Submission.root_id.is_(None), Submission.instance_id == instance_id),
        Submission.root_id == first,
    )


@dataclass
class Versions:
    """The first versions and edit counts of the submissions a batch holds."""

    session: Session
    firsts: dict[int, Any] = field(default_factory=dict)
    edits: dict[int, int] = field(default_factory=dict)

    def load(self, rows: Iterable[Any]) -> None:
        """Fetch, in two queries, what the batch's edited submissions need of their first."""
        wanted = {r.root_id for r in rows if r.root_id is not None} - set(self.firsts)
        if not wanted:
            return
        firsts = self.session.execute(
            select(*Submission.__table__.columns).where(Submission.id.in_(wanted))
        ).all()
        self.firsts |= {row.id: row for row in firsts}
        counts = self.session.execute(
            select(Submission.root_id, func.count())
            .where(Submission.root_id.in_(wanted))
            .group_by(Submission.root_id)
        ).all()
        self.edits |= {int(first): int(n) for first, n in counts if first is not None}

    def first(self, row: Any) -> Any:
        """Return the first version of a submission row (itself when never edited)."""
        return self.firsts.get(row.root_id, row) if row.root_id is not None else row

    def edit_count(self, row: Any) -> int:
        """Return how many edits the logical submission of a row has had."""
        return self.edits.get(row.root_id, 0) if row.root_id is not None else 0
