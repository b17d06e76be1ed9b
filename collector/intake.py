"""Durable intake of encrypted submissions: validate, store the ciphertext, acknowledge.

Nothing here decrypts. A submission is committed in state ``received`` with its manifest and
every ``.enc`` part before the caller may answer 201; the worker decrypts it later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.appusers import assigned_form_ids
from collector.errors import Conflict, Forbidden, InvalidInput, NotFound
from collector.models import (
    AppUser,
    Form,
    FormState,
    Submission,
    SubmissionPart,
    SubmissionState,
    utcnow,
)
from collector.publishing import find_version
from keys import odk
from keys.errors import ManifestError

MAX_MANIFEST_BYTES = 1_048_576


@dataclass(frozen=True)
class Part:
    """One uploaded ``.enc`` file: its multipart field name and a readable stream."""

    name: str
    stream: BinaryIO


@dataclass(frozen=True)
class Receipt:
    """What the caller needs to answer the client."""

    submission_id: int
    instance_id: str
    created: bool
    complete: bool
    added_parts: tuple[str, ...]


def parse_envelope(manifest: bytes) -> odk.ODKManifest:
    """Parse an encrypted manifest, turning protocol errors into a 400 with the reason."""
    if len(manifest) > MAX_MANIFEST_BYTES:
        raise InvalidInput("the submission manifest is too large", code=400.2)
    try:
        return odk.parse_manifest(manifest, max_size=MAX_MANIFEST_BYTES)
    except ManifestError as exc:
        raise InvalidInput(f"the submission manifest is not accepted: {exc}", code=400.2) from None


def _form_for(session: Session, project_id: int, user: AppUser | None, form_id: str) -> Form:
    form = session.scalars(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == form_id)
    ).one_or_none()
    if form is None:
        raise NotFound(f"form {form_id!r} does not exist in this project", code=404.1)
    if user is not None and form.id not in assigned_form_ids(session, user):
        raise Forbidden(f"this app user may not submit to form {form_id!r}")
    if form.state == FormState.CLOSED.value:
        raise Conflict(f"form {form_id!r} is closed and takes no submissions", code=409.2)
    return form


def _read_parts(envelope: odk.ODKManifest, parts: Iterable[Part], limit: int) -> dict[str, bytes]:
    allowed = set(envelope.files)
    out: dict[str, bytes] = {}
    for part in parts:
        if part.name not in allowed:
            raise InvalidInput(
                f"the upload has a part {part.name!r} that the manifest does not name",
                code=400.3,
                part=part.name,
            )
        if part.name in out:
            raise InvalidInput(
                f"the upload has part {part.name!r} twice", code=400.3, part=part.name
            )
        data = part.stream.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput(f"part {part.name!r} is too large", code=400.3)
        out[part.name] = data
    return out


def receive(
    session: Session,
    *,
    project_id: int,
    user: AppUser | None,
    manifest: bytes,
    parts: Iterable[Part],
    device_id: str | None = None,
    user_agent: str | None = None,
    max_part_bytes: int = 100 * 1024 * 1024,
) -> Receipt:
    """Validate and durably store one (possibly partial) upload; commit before returning."""
    envelope = parse_envelope(manifest)
    form = _form_for(session, project_id, user, envelope.form_id)
    version = find_version(session, form.id, envelope.version)
    if version is None:
        raise NotFound(
            f"version {envelope.version!r} of form {envelope.form_id!r} is not published",
            code=404.7,
            version=envelope.version,
        )
    files = _read_parts(envelope, parts, max_part_bytes)
    record = _Upload(
        project_id,
        form.id,
        version.id,
        envelope.instance_id,
        manifest,
        len(envelope.files),
        user.id if user else None,
        device_id,
        (user_agent or "")[:500] or None,
    )
    try:
        return _store(session, record, files)
    except IntegrityError:
        # Two uploads of the same instance raced; the loser sees the winner's row now.
        session.rollback()
        return _store(session, record, files)


@dataclass(frozen=True)
class _Upload:
    project_id: int
    form_id: int
    form_version_id: int
    instance_id: str
    manifest: bytes
    expected_parts: int
    submitter_id: int | None
    device_id: str | None
    user_agent: str | None


def _store(session: Session, upload: _Upload, files: dict[str, bytes]) -> Receipt:
    digest = hashlib.md5(upload.manifest).hexdigest()
    submission = session.scalars(
        select(Submission).where(
            Submission.form_id == upload.form_id, Submission.instance_id == upload.instance_id
        )
    ).one_or_none()
    created = submission is None
    if submission is None:
        submission = Submission(
            project_id=upload.project_id,
            form_id=upload.form_id,
            form_version_id=upload.form_version_id,
            instance_id=upload.instance_id,
            manifest=upload.manifest,
            manifest_md5=digest,
            expected_parts=upload.expected_parts,
            received_parts=0,
            submitter_id=upload.submitter_id,
            device_id=upload.device_id,
            user_agent=upload.user_agent,
        )
        session.add(submission)
        session.flush()
    elif submission.manifest_md5 != digest or submission.manifest != upload.manifest:
        raise Conflict(
            "a different submission with this instanceID was already received",
            code=409.5,
            instance_id=upload.instance_id,
        )
    added = _store_parts(session, submission, files)
    session.commit()
    return Receipt(
        submission.id,
        upload.instance_id,
        created,
        submission.received_parts == submission.expected_parts,
        added,
    )


def _store_parts(
    session: Session, submission: Submission, files: dict[str, bytes]
) -> tuple[str, ...]:
    have = {
        p.name: p.data
        for p in session.scalars(
            select(SubmissionPart).where(SubmissionPart.submission_id == submission.id)
        )
    }
    added = []
    for name, data in files.items():
        if name in have:
            if have[name] != data:
                raise Conflict(
                    f"part {name!r} was already received with other content", code=409.5, part=name
                )
            continue
        session.add(
            SubmissionPart(submission_id=submission.id, name=name, data=data, size=len(data))
        )
        added.append(name)
    if added:
        submission.received_parts += len(added)
        submission.updated_at = utcnow()
        if (
            submission.state == SubmissionState.FAILED.value
            and submission.reason == "missing-media"
        ):
            # The missing parts arrived after all: the submission goes back in the queue.
            submission.state = SubmissionState.RECEIVED.value
            submission.reason = submission.reason_detail = None
    return tuple(added)
