"""Envelope retention: old processed envelopes destroyed in resumable batches, nothing else."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import erasure, retention
from collector.audit import CLI
from collector.db import session_factory
from collector.models import AuditEntry, Submission, SubmissionPart, SubmissionRecord, utcnow
from tests.support.pipeline import process_all, publish, submit
from tests.support.xlsform import FIELD_VISIT

VALUES = "<full_name>Zeynep Kaya</full_name><age>31</age><story>s</story>"


def test_purge_runs_in_batches_and_stops_at_the_cut_off(db_engine: Engine, kek: bytes) -> None:
    sessions: sessionmaker[Session] = session_factory(db_engine)
    with sessions() as session, session.begin():
        version = publish(session, kek, FIELD_VISIT)
    with sessions() as session:
        ids = [submit(session, version, VALUES) for _ in range(4)]
    process_all(sessions, kek)
    with sessions() as session:
        failed = submit(session, version, VALUES)
    with sessions() as session, session.begin():
        for sub in session.scalars(select(Submission)):
            if sub.instance_id in ids[:3]:
                sub.processed_at = utcnow() - timedelta(days=10)
            if sub.instance_id == failed:
                sub.state, sub.reason = "failed", "unknown-key"
    project_id = version.form.project_id
    cut_off = utcnow() - timedelta(days=5)
    with sessions() as session:
        assert retention.due(session, project_id, cut_off) == 3
    seen: list[int] = []
    done = retention.purge(sessions, project_id, cut_off, actor=CLI, batch=2, progress=seen.append)
    assert (done, seen) == (3, [2, 3])
    assert retention.purge(sessions, project_id, cut_off, actor=CLI, batch=2) == 0
    with sessions() as session:
        kept = {
            s.instance_id: s.manifest != erasure.ERASED_MANIFEST
            for s in session.scalars(select(Submission))
        }
        parts = session.scalar(select(func.count()).select_from(SubmissionPart))
        records = session.scalar(select(func.count()).select_from(SubmissionRecord))
        counts = [
            json.loads(a.details)["count"]
            for a in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "envelope.purge")
            )
        ]
    assert kept == {ids[0]: False, ids[1]: False, ids[2]: False, ids[3]: True, failed: True}
    assert parts == 2  # the encrypted XML of the recent one and of the failed one
    assert records == 4
    assert counts == [2, 1]
