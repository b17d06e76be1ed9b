"""What erasing a subject removes besides its vault keys: the stored envelopes naming it.

A submission's raw envelope (Collect's manifest and ``.enc`` parts, or the sealed XML and files
of a REST upload) holds the subject's originals under keys the server keeps, so crypto-shredding
the subject's data key alone would leave them recoverable. Erasure therefore also destroys the
envelope of every processed submission whose record names the subject: its parts are deleted
and its manifest replaced by a marker. The pseudonymised record stays (analysis data), and so
does the manifest's digest, so that a tablet sending the same submission again is answered as
a retry, without storing it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import JSON, Integer, cast, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from collector.models import Submission, SubmissionPart, SubmissionRecord, utcnow

#: The manifest of a submission whose envelope was destroyed by an erasure.
ERASED_MANIFEST = b'{"erased": true}'


def linked_submissions(session: Session, project_id: int, subject_id: int) -> list[int]:
    """The ids of a project's stored records that name the subject (any version, any repeat)."""
    if session.get_bind().dialect.name == "postgresql":
        names = cast(cast(SubmissionRecord.data, JSON), JSONB)["subjects"].contains([subject_id])
    else:
        each = func.json_each(SubmissionRecord.data, "$.subjects").table_valued("value")
        names = exists(select(1).select_from(each).where(cast(each.c.value, Integer) == subject_id))
    stmt = (
        select(SubmissionRecord.submission_id)
        .join(Submission, Submission.id == SubmissionRecord.submission_id)
        .where(Submission.project_id == project_id, names)
        .order_by(SubmissionRecord.submission_id)
    )
    return list(session.scalars(stmt))


def destroy_envelopes(session: Session, project_id: int, subject_id: int) -> int:
    """Delete the envelopes of the submissions naming a subject (caller's transaction);
    return how many submissions lost theirs."""
    ids = linked_submissions(session, project_id, subject_id)
    destroy(session, ids)
    return len(ids)


def destroy(session: Session, ids: Sequence[int]) -> None:
    """Delete these submissions' envelopes, leaving the marker manifest (caller's transaction)."""
    if not ids:
        return
    session.execute(delete(SubmissionPart).where(SubmissionPart.submission_id.in_(ids)))
    session.execute(
        update(Submission)
        .where(Submission.id.in_(ids), Submission.manifest != ERASED_MANIFEST)
        .values(manifest=ERASED_MANIFEST, updated_at=utcnow())
    )
