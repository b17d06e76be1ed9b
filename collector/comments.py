"""Comments on submissions, sealed at rest: a reviewer may write what a respondent said.

A comment belongs to the logical submission (the first version) and is sealed under the
project's data key, bound to that submission; the audit log records that a comment was made,
never its text.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, vault
from collector.audit import Actor
from collector.errors import InvalidInput
from collector.models import Submission, SubmissionComment
from keys import seal


def _comment_aad(root: Submission) -> bytes:
    return f"collector/submission-comment/{root.project_id}/{root.id}".encode()


def add_comment(
    session: Session, secrets: vault.Secrets, root: Submission, body: str, *, actor: Actor
) -> SubmissionComment:
    """Add a comment (sealed at rest) to a logical submission."""
    if not body.strip():
        raise InvalidInput("a comment needs a body", code=400.2, field="body")
    version, key = secrets.data_key(session, root.project_id)
    row = SubmissionComment(
        submission_id=root.id,
        user_id=actor.id if actor.type == "user" else None,
        sealed=seal.seal(key, body.encode(), _comment_aad(root)),
        key_version=version,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "submission.comment", project_id=root.project_id, subject=root.instance_id
    )
    return row


def comments(
    session: Session, secrets: vault.Secrets, root: Submission
) -> list[tuple[SubmissionComment, str]]:
    """Return a logical submission's comments with their bodies, newest first (as Central)."""
    stmt = select(SubmissionComment).where(SubmissionComment.submission_id == root.id)
    out = []
    for row in session.scalars(stmt.order_by(SubmissionComment.id.desc())):
        key = secrets.data_key_version(session, root.project_id, row.key_version)
        out.append((row, seal.unseal(key, row.sealed, _comment_aad(root)).decode()))
    return out
