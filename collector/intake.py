"""Durable intake of encrypted submissions: validate, store the ciphertext, acknowledge.

Nothing here decrypts. A submission is committed in state ``received`` with its manifest and
every ``.enc`` part before the caller may answer 201; the worker decrypts it later.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import IO, TYPE_CHECKING

from sqlalchemy import Connection, and_, bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector import erasure
from collector.appusers import Caller
from collector.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from collector.models import (
    AppUser,
    Form,
    FormAssignment,
    FormState,
    FormVersion,
    Submission,
    SubmissionPart,
    SubmissionState,
    utcnow,
)
from keys import odk
from keys.errors import ManifestError

if TYPE_CHECKING:
    from collector.groupcommit import Committer

MAX_MANIFEST_BYTES = 1_048_576
#: Who uploads: an app user as OpenRosa authenticates it, or a loaded row.
Submitter = AppUser | Caller
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One uploaded ``.enc`` file: its multipart field name and a readable stream."""

    name: str
    stream: IO[bytes]


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


# Built once: intake runs these on every upload, and building SQLAlchemy statements costs
# more than running them.
_FORM_AND_VERSION = (
    select(
        Form.id,
        Form.state,
        FormVersion.id,
        exists()
        .where(
            FormAssignment.form_id == Form.id,
            FormAssignment.app_user_id == bindparam("user_id"),
        )
        .correlate(Form),
    )
    .outerjoin(
        FormVersion,
        and_(
            FormVersion.form_id == Form.id,
            FormVersion.version == bindparam("version"),
            FormVersion.published_at.is_not(None),
        ),
    )
    .where(Form.project_id == bindparam("project_id"), Form.xml_form_id == bindparam("form_id"))
)
_NEW_SUBMISSION = insert(Submission).returning(Submission.id)
_NEW_PART = insert(SubmissionPart)


def _published(
    session: Session, project_id: int, user: Submitter | None, envelope: odk.ODKManifest
) -> tuple[int, int]:
    """Return the form and published version ids the envelope names, or refuse it."""
    form_id, version = envelope.form_id, envelope.version
    row = (
        session.connection()
        .execute(
            _FORM_AND_VERSION,
            {
                "project_id": project_id,
                "form_id": form_id,
                "version": version,
                "user_id": user.id if user else None,
            },
        )
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"form {form_id!r} does not exist in this project", code=404.1)
    form_pk, state, version_pk, assigned = row
    if user is not None and not assigned:
        raise Forbidden(f"this app user may not submit to form {form_id!r}")
    if state == FormState.CLOSED.value:
        raise Conflict(f"form {form_id!r} is closed and takes no submissions", code=409.2)
    if version_pk is None:
        raise NotFound(
            f"version {version!r} of form {form_id!r} is not published", code=404.7, version=version
        )
    return int(form_pk), int(version_pk)


def _store_new(session: Session, upload: Upload, parts: list[Part], limit: int) -> Receipt:
    """Insert a submission seen for the first time, with this upload's parts, and commit."""
    receipt = insert_new(session.connection(), upload, parts, limit)
    session.commit()
    return receipt


def insert_new(connection: Connection, upload: Upload, parts: list[Part], limit: int) -> Receipt:
    # Core statements on the session's connection: the ORM's bulk-insert machinery costs more
    # than the inserts themselves, and nothing here needs identity-mapped objects.
    values = {f.name: getattr(upload, f.name) for f in fields(Upload)}
    # Every part of this upload is new (the names were checked unique); all or none of them
    # are committed with the row.
    values |= {
        "manifest_md5": hashlib.md5(upload.manifest).hexdigest(),
        "received_parts": len(parts),
    }
    submission_id = connection.execute(_NEW_SUBMISSION, values).scalar_one()
    for part in parts:
        data = _read_part(part, limit)
        connection.execute(
            _NEW_PART,
            {"submission_id": submission_id, "name": part.name, "data": data, "size": len(data)},
        )
        del data
    names = tuple(p.name for p in parts)
    complete = len(parts) == upload.expected_parts
    return Receipt(submission_id, upload.instance_id, True, complete, names)


def _check_part_names(envelope: odk.ODKManifest, parts: Sequence[Part]) -> None:
    """Refuse, before anything is read or stored, parts the manifest does not name."""
    allowed = set(envelope.files)
    seen: set[str] = set()
    for part in parts:
        if part.name not in allowed:
            raise InvalidInput(
                f"the upload has a part {part.name!r} that the manifest does not name",
                code=400.3,
                part=part.name,
            )
        if part.name in seen:
            raise InvalidInput(
                f"the upload has part {part.name!r} twice", code=400.3, part=part.name
            )
        seen.add(part.name)


def _read_part(part: Part, limit: int) -> bytes:
    """Read one part whole, allocating only its size (``read(limit)`` would reserve ``limit``)."""
    stream = part.stream
    if stream.seekable():
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        if size > limit:
            raise TooLarge(f"part {part.name!r} is larger than {limit} bytes", part=part.name)
        return stream.read(size)
    chunks, total = [], 0
    while chunk := stream.read(min(READ_CHUNK, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"part {part.name!r} is larger than {limit} bytes", part=part.name)
    return b"".join(chunks)


def rewind(parts: Sequence[Part]) -> bool:
    """Seek every part back to its start; tell whether that was possible."""
    if not all(p.stream.seekable() for p in parts):
        return False
    for part in parts:
        part.stream.seek(0)
    return True


def receive(
    session: Session,
    *,
    project_id: int,
    user: Submitter | None,
    manifest: bytes,
    parts: Iterable[Part],
    device_id: str | None = None,
    user_agent: str | None = None,
    max_part_bytes: int = 100 * 1024 * 1024,
    committer: Committer | None = None,
    draft: Draft | None = None,
) -> Receipt:
    """Validate and durably store one (possibly partial) upload; commit before returning.

    Any refusal rolls the session back: a refused upload changes nothing. Parts are read and
    written one at a time, so memory holds at most one part whatever the number of parts.
    With a ``committer``, new submissions are committed in groups with concurrent ones.
    With a ``draft``, the upload tests that draft (no app user): it must name the draft's form
    and version.
    """
    parts = list(parts)
    try:
        upload = _validate(session, project_id, user, manifest, parts, draft)
        upload = replace(upload, device_id=device_id, user_agent=(user_agent or "")[:500] or None)
        return _store_upload(session, upload, parts, max_part_bytes, committer)
    except BaseException:
        session.rollback()
        raise


def _store_upload(
    session: Session, upload: Upload, parts: list[Part], limit: int, committer: Committer | None
) -> Receipt:
    if committer is not None:
        receipt = committer.store_new(session, upload, parts, limit)
        if receipt is not None:
            return receipt
    else:
        try:
            # Most uploads are new submissions: insert at once, and let the database's
            # unique constraint say when it is a retry or a split upload's next part.
            return _store_new(session, upload, parts, limit)
        except IntegrityError:
            session.rollback()
            if not rewind(parts):
                raise
    try:
        return _store(session, upload, parts, limit)
    except IntegrityError:
        # Two uploads of the same instance (or part) raced; the loser sees the winner's
        # rows now and is answered as a retry would be.
        session.rollback()
        if not rewind(parts):
            raise
        return _store(session, upload, parts, limit)


@dataclass(frozen=True)
class Draft:
    """The draft a test upload is for: its form's row and xmlFormId, its version row and name."""

    form_id: int
    xml_form_id: str
    version_id: int
    version: str


def _of_draft(draft: Draft, envelope: odk.ODKManifest) -> tuple[int, int]:
    if envelope.form_id != draft.xml_form_id:
        raise InvalidInput(
            f"the submission is of form {envelope.form_id!r}, not {draft.xml_form_id!r}",
            code=400.8,
        )
    if envelope.version != draft.version:
        raise NotFound(
            f"version {envelope.version!r} is not the draft of form {draft.xml_form_id!r}",
            code=404.7,
            version=envelope.version,
        )
    return draft.form_id, draft.version_id


def _validate(
    session: Session,
    project_id: int,
    user: Submitter | None,
    manifest: bytes,
    parts: list[Part],
    draft: Draft | None = None,
) -> Upload:
    envelope = parse_envelope(manifest)
    if draft is not None:
        form_id, version_id = _of_draft(draft, envelope)
    else:
        form_id, version_id = _published(session, project_id, user, envelope)
    _check_part_names(envelope, parts)
    return Upload(
        project_id=project_id,
        form_id=form_id,
        form_version_id=version_id,
        instance_id=envelope.instance_id,
        manifest=manifest,
        expected_parts=len(envelope.files),
        submitter_id=user.id if user else None,
    )


@dataclass(frozen=True)
class Upload:
    """A validated upload's envelope, as its submission row will hold it."""

    project_id: int
    form_id: int
    form_version_id: int
    instance_id: str
    manifest: bytes
    expected_parts: int
    submitter_id: int | None
    device_id: str | None = None
    user_agent: str | None = None


def _existing(session: Session, upload: Upload) -> Submission | None:
    return session.scalars(
        select(Submission).where(
            Submission.form_id == upload.form_id, Submission.instance_id == upload.instance_id
        )
    ).one_or_none()


def deleted_conflict(instance_id: str) -> Conflict:
    """The refusal of an instance sent again after its submission was deleted (as Central's)."""
    return Conflict(
        f"submission {instance_id!r} has been deleted: it may not be sent again "
        "(restore it instead)",
        code=409.18,
        instanceId=instance_id,
    )


def _store(session: Session, upload: Upload, parts: list[Part], limit: int) -> Receipt:
    digest = hashlib.md5(upload.manifest).hexdigest()
    submission = _existing(session, upload)
    created = submission is None
    if submission is not None and submission.deleted_at is not None:
        raise deleted_conflict(upload.instance_id)
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
    elif submission.manifest == erasure.ERASED_MANIFEST and submission.manifest_md5 == digest:
        # Sent again after an erasure destroyed its envelope: it was received, and is not
        # stored again.
        session.rollback()
        return Receipt(submission.id, upload.instance_id, False, True, ())
    elif submission.manifest_md5 != digest or submission.manifest != upload.manifest:
        raise Conflict(
            "a different submission with this instanceID was already received",
            code=409.5,
            instance_id=upload.instance_id,
        )
    added = _store_parts(session, submission.id, parts, limit)
    received = _count_added(session, submission.id, len(added))
    session.commit()
    return Receipt(
        submission.id, upload.instance_id, created, received == upload.expected_parts, added
    )


def _store_parts(
    session: Session, submission_id: int, parts: list[Part], limit: int
) -> tuple[str, ...]:
    rows = session.execute(
        select(SubmissionPart.name, SubmissionPart.size).where(
            SubmissionPart.submission_id == submission_id
        )
    )
    have = {name: size for name, size in rows}
    added = []
    for part in parts:
        data = _read_part(part, limit)
        if part.name in have:
            _check_same_part(session, submission_id, part.name, have[part.name], data)
            continue
        row = SubmissionPart(submission_id=submission_id, name=part.name, data=data, size=len(data))
        session.add(row)
        session.flush()
        # Written: let the row (and its bytes) go, so only one part is ever held in memory.
        session.expunge(row)
        added.append(part.name)
    return tuple(added)


def _check_same_part(
    session: Session, submission_id: int, name: str, size: int, data: bytes
) -> None:
    same = size == len(data) and data == session.scalar(
        select(SubmissionPart.data).where(
            SubmissionPart.submission_id == submission_id, SubmissionPart.name == name
        )
    )
    if not same:
        raise Conflict(
            f"part {name!r} was already received with other content", code=409.5, part=name
        )


def _count_added(session: Session, submission_id: int, count: int) -> int:
    """Add ``count`` parts to the counter in SQL (concurrent uploads never lose an update)."""
    if count:
        now = utcnow()
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(received_parts=Submission.received_parts + count, updated_at=now)
        )
        # The missing parts arrived after all: a submission failed for them goes back in line.
        session.execute(
            update(Submission)
            .where(
                Submission.id == submission_id,
                Submission.state == SubmissionState.FAILED.value,
                Submission.reason == "missing-media",
            )
            .values(
                state=SubmissionState.RECEIVED.value,
                reason=None,
                reason_detail=None,
                claimed_until=None,
            )
        )
    received = session.scalar(
        select(Submission.received_parts).where(Submission.id == submission_id)
    )
    return int(received or 0)
