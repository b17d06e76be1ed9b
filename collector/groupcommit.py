"""Group commit of first uploads: those that arrive together share one durable commit.

``collector.intake.receive`` hands each first upload to the app's ``Committer``; whatever a
group cannot commit goes back to receive's one-by-one path.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import intake
from collector.db import among
from collector.models import Submission


@dataclass
class _Job:
    """One first upload waiting for a group commit."""

    upload: intake.Upload
    parts: list[intake.Part]
    limit: int
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    receipt: intake.Receipt | None = None
    error: BaseException | None = None


class Committer:
    """Group commit: first uploads that arrive together share one transaction and one flush.

    A durable commit (an fsync) costs more than everything else intake does, and SQLite
    commits one writer at a time. A request thread that finds no commit under way leads:
    it inserts every upload queued so far in one transaction and commits once; the others
    wait, and the first of those that arrived meanwhile leads the next group. Each caller
    still returns only after its own upload is committed. Uploads that are not new, or
    any group that fails as a whole, fall back to ``receive``'s one-by-one path.
    """

    def __init__(self, max_group: int = 64):
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._leading = False

    def store_new(
        self, session: Session, upload: intake.Upload, parts: list[intake.Part], limit: int
    ) -> intake.Receipt | None:
        """Commit a first upload with others; None when it must take the one-by-one path.

        A leader commits its group in its own ``session`` (no other connection is taken).
        """
        job = _Job(upload, parts, limit)
        with self._lock:
            self._queue.append(job)
            job.lead = not self._leading
            self._leading = True
        if not job.lead:
            job.done.wait()
        if job.lead:
            self._run_group(session)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.receipt

    def _run_group(self, session: Session) -> None:
        with self._lock:
            group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
        try:
            _commit_group(session, group)
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                self._leading = following is not None
            if following is not None:
                following.lead = True
                following.done.set()
            for job in group:
                job.lead = False
                job.done.set()


def _commit_group(session: Session, group: list[_Job]) -> None:
    """Insert the group's new uploads in one transaction; leave the others to fall back."""
    fresh: list[_Job] = []
    try:
        fresh = _fresh(session, group) if len(group) > 1 else [j for j in group if _fits(j)]
        connection = session.connection()
        receipts = [intake.insert_new(connection, j.upload, j.parts, j.limit) for j in fresh]
        session.commit()
    except BaseException:
        session.rollback()
        # Not new after all, a race with another process, or a database error: each caller
        # then takes the one-by-one path, which sorts these out.
        for job in fresh:
            intake.rewind(job.parts)
        return
    for job, receipt in zip(fresh, receipts, strict=True):
        job.receipt = receipt


def _fresh(session: Session, group: list[_Job]) -> list[_Job]:
    """The jobs of a group whose instance is not stored yet (one each), and that fit."""
    # Both columns of the unique (form, instanceID) index: by instanceID alone the lookup
    # would scan the whole index, every submission ever received, at every group commit.
    dialect = session.get_bind().dialect.name
    rows = session.connection().execute(
        select(Submission.form_id, Submission.instance_id).where(
            among(Submission.form_id, {j.upload.form_id for j in group}, dialect),
            among(Submission.instance_id, {j.upload.instance_id for j in group}, dialect),
        )
    )
    taken = {(form_id, iid) for form_id, iid in rows}
    fresh = []
    for job in group:
        key = (job.upload.form_id, job.upload.instance_id)
        if key not in taken and _fits(job):
            taken.add(key)
            fresh.append(job)
    return fresh


def _fits(job: _Job) -> bool:
    """Tell whether every part can be measured and is within the limit (else: one by one)."""
    if not all(p.stream.seekable() for p in job.parts):
        return False
    for part in job.parts:
        start = part.stream.tell()
        size = part.stream.seek(0, io.SEEK_END) - start
        part.stream.seek(start)
        if size > job.limit:
            return False
    return True
