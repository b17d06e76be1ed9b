"""Decrypted media of processed submissions: who may download which file.

Files are served from the current version of a processed submission, opened from the sealed
copy the worker stored. The question a file answers decides who may have it. A file whose name
the stored record holds as plain text answers a question without a PII rule: any reader of the
project's submissions may download it. Any other file answers a sensitive or identifying question
(its value in the record is sealed or a pseudonym): only an admin may download it. Files a form's
policy drops were never stored. Every download is audited, without the file's content.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, roles, vault
from collector.audit import Actor
from collector.errors import Conflict, NotFound
from collector.models import Role, Submission, SubmissionMedia, SubmissionRecord, SubmissionState
from collector.submissions import current_of


@dataclass(frozen=True)
class MediaFile:
    """One decrypted file, ready to be sent."""

    name: str
    content_type: str
    data: bytes = field(repr=False)


def _plain_values(document: dict[str, Any]) -> set[str]:
    values = {v for v in document.get("root", {}).values() if isinstance(v, str)}
    for rows in document.get("repeats", {}).values():
        for row in rows:
            values.update(v for v in row.get("values", {}).values() if isinstance(v, str))
    return values


def _may_open_protected(actor: Actor) -> bool:
    return actor.type in roles.TRUSTED or actor.role == Role.ADMIN.value


def media_file(
    session: Session, secrets: vault.Secrets, root: Submission, name: str, *, actor: Actor
) -> MediaFile:
    """Open one stored file of a logical submission's current version for ``actor``."""
    current = current_of(session, root)
    if current.state != SubmissionState.PROCESSED.value:
        raise Conflict(
            f"submission {root.instance_id!r} is {current.state}: its files are served once "
            "it is processed",
            code=409.1,
            state=current.state,
        )
    stored = session.scalars(
        select(SubmissionMedia).where(
            SubmissionMedia.submission_id == current.id, SubmissionMedia.name == name
        )
    ).one_or_none()
    if stored is None:
        raise NotFound(
            f"submission {root.instance_id!r} has no stored file {name!r} (never sent, "
            "or dropped by the form's PII policy)"
        )
    record = session.get(SubmissionRecord, current.id)
    document = json.loads(record.data) if record is not None else {}
    protected = name not in _plain_values(document)
    if protected and not _may_open_protected(actor):
        roles.deny(session, actor, "submission.attachment.protected", root.project_id)
    data = vault.open_value(
        secrets, session, current.project_id, stored.key_version, stored.sealed, "media"
    )
    audit.record(
        session,
        actor,
        "submission.attachment.read",
        project_id=root.project_id,
        subject=root.instance_id,
        name=name,
        protected=protected,
    )
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return MediaFile(name, content_type, data)
