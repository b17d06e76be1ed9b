"""Envelope retention: destroying the raw envelopes of submissions processed long ago.

A processed submission keeps its raw envelope (Collect's manifest and ``.enc`` parts, or the
sealed XML and files of a REST upload) so that it can be decrypted again. But the envelope holds
every original value, identifiers included, under keys the server keeps: as long as it exists,
pseudonymisation is only as strong as the keyring. Once a project no longer needs to reprocess
old submissions, ``purge`` destroys the envelopes of those processed before a cut-off, as an
erasure does: parts deleted, manifest replaced by the marker (its digest stays, so a tablet
sending one again is answered as a retry and nothing is stored again). The pseudonymised record,
the vault and the sealed media stay. Failed and waiting submissions are never touched: their
envelope is all there is.

It runs in batches, each its own transaction, so it can be stopped and run again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import audit, erasure, keyring
from collector.audit import Actor
from collector.models import Submission, SubmissionState

BATCH = 500


def _due(project_id: int, before: datetime) -> Select[Any]:
    return (
        select(Submission.id)
        .where(
            Submission.project_id == project_id,
            Submission.state == SubmissionState.PROCESSED.value,
            Submission.processed_at < before,
            Submission.manifest != erasure.ERASED_MANIFEST,
        )
        .order_by(Submission.id)
    )


def due(session: Session, project_id: int, before: datetime) -> int:
    """Count the envelopes a purge with this cut-off would destroy."""
    keyring.get_project(session, project_id)
    return int(
        session.scalar(select(func.count()).select_from(_due(project_id, before).subquery())) or 0
    )


def purge(
    sessions: sessionmaker[Session],
    project_id: int,
    before: datetime,
    *,
    actor: Actor,
    batch: int = BATCH,
    progress: Callable[[int], None] = lambda _done: None,
) -> int:
    """Destroy the envelopes of the project's submissions processed before ``before``; return
    how many. Each batch commits with its audit entry (``envelope.purge``)."""
    total = 0
    while True:
        with sessions() as session, session.begin():
            keyring.get_project(session, project_id)
            ids = list(session.scalars(_due(project_id, before).limit(batch)))
            if not ids:
                return total
            erasure.destroy(session, ids)
            audit.record(
                session,
                actor,
                "envelope.purge",
                project_id=project_id,
                count=len(ids),
                processedBefore=before.isoformat(),
            )
        total += len(ids)
        progress(total)
