"""Submissions over the REST API: plaintext XML sealed on arrival, edits, review and comments.

pyodk posts submissions as plaintext XML, and this project stores nothing in plaintext: the XML
and each attachment are sealed at once under the project's data key, bound (associated data) to
the project, form, instanceID and part, and kept as a submission whose envelope is ``sealed``.
The worker opens it (``open_sealed``) and stores it through ``records.write_batch``, the path
of a decrypted Collect envelope, so the PII policy applies alike.

An edit (PUT with ``meta/deprecatedID``) is a new version linked to the first one (``root_id``);
the older version keeps its record but is no longer ``current``. The API names a logical
submission by its first instanceID, and keeps review state and comments on it, as Central does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import JSON, ColumnElement, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from collector import (
    audit,
    entitychange,
    entityflow,
    erasure,
    intake,
    publishing,
    records,
    vault,
)
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, NotFound, ProcessingFailed
from collector.models import (
    Dataset,
    Form,
    FormState,
    FormVersion,
    Submission,
    SubmissionComment,
    SubmissionMedia,
    SubmissionPart,
    SubmissionRecord,
    SubmissionState,
    on_view,
    utcnow,
)
from collector.publishing import find_version
from forms.errors import FormError
from forms.xmlsafe import MAX_INSTANCE_BYTES, child, parse_xml
from keys import odk, seal
from keys.errors import KeysError

SEALED = "sealed"
RECEIVED = "received"
_CONVERT_BATCH = 200
REVIEW_STATES = (RECEIVED, "hasIssues", "edited", "approved", "rejected")


@dataclass(frozen=True)
class Arrival:
    """What the server may know of an instance before sealing it: ids and file names."""

    version: FormVersion
    instance_id: str
    deprecated_id: str | None
    files: tuple[str, ...]


def _aad(project_id: int, form_id: int, instance_id: str, part: str) -> bytes:
    return f"collector/sealed-submission/{project_id}/{form_id}/{instance_id}/{part}".encode()


def _seal(
    secrets: vault.Secrets, session: Session, project_id: int, data: bytes, aad: bytes
) -> dict[str, object]:
    version, key = secrets.data_key(session, project_id)
    return vault.encode_sealed(version, seal.seal(key, data, aad))


def _open(
    secrets: vault.Secrets, session: Session, project_id: int, blob: bytes, aad: bytes
) -> bytes:
    doc = json.loads(blob)
    key = secrets.data_key_version(session, project_id, int(doc["v"]))
    return seal.unseal(key, base64.b64decode(doc["sealed"]), aad)


def _text(element: ET.Element | None, name: str) -> str | None:
    found = child(element, name) if element is not None else None
    return (found.text or "").strip() or None if found is not None else None


def _parse(xml: bytes) -> ET.Element:
    try:
        return parse_xml(xml, what="submission", limit=MAX_INSTANCE_BYTES)
    except FormError as exc:
        raise InvalidInput(f"the submission is not valid XML: {exc}", code=400.1) from None


def _files(xml: bytes, version: FormVersion) -> tuple[str, ...]:
    model = records.model_for(version.xml, version.policy)
    try:
        flat = model.flatten(xml)
    except FormError as exc:
        raise InvalidInput(f"the submission does not fit the form: {exc}", code=400.8) from None
    names = []
    for row in (flat.root, *(r for rows in flat.repeats.values() for r in rows)):
        for path, value in row.values.items():
            if value and model.field(path).type == "binary" and value not in names:
                names.append(value)
    return tuple(names)


def arrive(session: Session, form: Form, xml: bytes) -> Arrival:
    """Check an instance against its form and published version; read ids and file names."""
    root = _parse(xml)
    if root.get("id") != form.xml_form_id:
        raise InvalidInput(
            f"the submission is of form {root.get('id')!r}, not {form.xml_form_id!r}", code=400.8
        )
    if form.state == FormState.CLOSED.value:
        raise Conflict(f"form {form.xml_form_id!r} is closed and takes no submissions", code=409.2)
    version = find_version(session, form.id, root.get("version") or "")
    if version is None:
        raise NotFound(
            f"version {root.get('version') or ''!r} of form {form.xml_form_id!r} is not published",
            code=404.7,
        )
    meta = child(root, "meta")
    instance_id = _text(meta, "instanceID")
    if instance_id is None:
        raise InvalidInput("the submission has no meta/instanceID", code=400.2)
    return Arrival(version, instance_id, _text(meta, "deprecatedID"), _files(xml, version))


def _check_new(session: Session, form: Form, instance_id: str) -> None:
    stmt = select(Submission.deleted_at).where(
        Submission.form_id == form.id, Submission.instance_id == instance_id
    )
    found = session.execute(stmt).first()
    if found is not None and found.deleted_at is not None:
        raise intake.deleted_conflict(instance_id)
    if found is not None:
        raise Conflict(
            f"a submission with instanceID {instance_id!r} already exists",
            code=409.3,
            instanceId=instance_id,
        )


@dataclass(frozen=True)
class Origin:
    """Who sent an instance, and from where."""

    actor: Actor
    device_id: str | None = None
    user_agent: str | None = None


def _store(
    session: Session,
    secrets: vault.Secrets,
    form: Form,
    arrival: Arrival,
    xml: bytes,
    origin: Origin,
    root: Submission | None,
) -> Submission:
    aad = _aad(form.project_id, form.id, arrival.instance_id, "xml")
    manifest = json.dumps(
        {**_seal(secrets, session, form.project_id, xml, aad), "files": list(arrival.files)}
    ).encode()
    submission = Submission(
        project_id=form.project_id,
        form_id=form.id,
        form_version_id=arrival.version.id,
        instance_id=arrival.instance_id,
        manifest=manifest,
        manifest_md5=hashlib.md5(manifest).hexdigest(),
        expected_parts=len(arrival.files),
        received_parts=0,
        creator_user_id=origin.actor.id if origin.actor.type == "user" else None,
        device_id=(origin.device_id or "")[:200] or None,
        user_agent=(origin.user_agent or "")[:500] or None,
        envelope=SEALED,
        root_id=root.id if root is not None else None,
    )
    session.add(submission)
    session.flush()
    return submission


def create(
    session: Session, secrets: vault.Secrets, form: Form, xml: bytes, origin: Origin
) -> Submission:
    """Seal and store a new instance (the caller commits, then the worker processes it)."""
    arrival = arrive(session, form, xml)
    if arrival.deprecated_id is not None:
        raise InvalidInput(
            "this instance replaces another (meta/deprecatedID): send it as an edit (PUT)",
            code=400.8,
        )
    _check_new(session, form, arrival.instance_id)
    submission = _store(session, secrets, form, arrival, xml, origin, None)
    audit.record(
        session,
        origin.actor,
        "submission.create",
        project_id=form.project_id,
        subject=arrival.instance_id,
        form=form.xml_form_id,
        files=len(arrival.files),
    )
    return submission


def get_logical(session: Session, form: Form, instance_id: str) -> Submission:
    """Return the submission an instanceID names in the API (its first version)."""
    found = session.scalars(
        select(Submission).where(
            Submission.form_id == form.id,
            Submission.instance_id == instance_id,
            Submission.root_id.is_(None),
            on_view(),
        )
    ).one_or_none()
    if found is None:
        raise NotFound(
            f"submission {instance_id!r} does not exist in form {form.xml_form_id!r}",
            instanceId=instance_id,
        )
    return found


def list_logical(session: Session, form: Form) -> list[Submission]:
    """Return a form's logical submissions, newest first."""
    stmt = select(Submission).where(
        Submission.form_id == form.id, Submission.root_id.is_(None), on_view()
    )
    return list(session.scalars(stmt.order_by(Submission.id.desc())))


def list_deleted(session: Session, form: Form) -> list[Submission]:
    """Return a form's deleted logical submissions, newest first (``?deleted=true``)."""
    stmt = select(Submission).where(
        Submission.form_id == form.id,
        Submission.root_id.is_(None),
        Submission.deleted_at.is_not(None),
    )
    return list(session.scalars(stmt.order_by(Submission.id.desc())))


def _versions_of(root: Submission) -> ColumnElement[bool]:
    return or_(Submission.id == root.id, Submission.root_id == root.id)


def delete_logical(session: Session, form: Form, instance_id: str, *, actor: Actor) -> None:
    """Delete a logical submission, every version of it: hidden from every view and export,
    kept until restored or purged (``PURGE_AFTER``). Its entity changes stay, as on Central."""
    root = get_logical(session, form, instance_id)
    session.execute(update(Submission).where(_versions_of(root)).values(deleted_at=utcnow()))
    audit.record(
        session,
        actor,
        "submission.delete",
        project_id=form.project_id,
        subject=instance_id,
        form=form.xml_form_id,
    )


def restore_logical(session: Session, form: Form, instance_id: str, *, actor: Actor) -> None:
    """Bring a deleted logical submission back, as it was (404 if it is not deleted)."""
    root = session.scalars(
        select(Submission).where(
            Submission.form_id == form.id,
            Submission.instance_id == instance_id,
            Submission.root_id.is_(None),
            Submission.deleted_at.is_not(None),
        )
    ).one_or_none()
    if root is None:
        raise NotFound(
            f"no deleted submission {instance_id!r} in form {form.xml_form_id!r}",
            instanceId=instance_id,
        )
    session.execute(update(Submission).where(_versions_of(root)).values(deleted_at=None))
    audit.record(
        session,
        actor,
        "submission.restore",
        project_id=form.project_id,
        subject=instance_id,
        form=form.xml_form_id,
    )


#: How long a deleted submission is kept, restorable, before ``purge`` removes it (Central's).
PURGE_AFTER = timedelta(days=30)
#: Logical submissions removed per statement (bound parameters stay well under the limits).
PURGE_BATCH = 500


def purge(
    session: Session,
    *,
    actor: Actor,
    force: bool = False,
    project_id: int | None = None,
    form: Form | None = None,
    instance_id: str | None = None,
) -> int:
    """Remove for good the submissions deleted more than ``PURGE_AFTER`` ago (with ``force``,
    every deleted one), of one project, form or logical submission if given; return how many
    logical submissions went. Their records, media, envelopes and comments go, and the vault
    subjects only they named are crypto-shredded (``remove``); audited per project."""
    roots = select(Submission.id, Submission.project_id).where(
        Submission.root_id.is_(None), Submission.deleted_at.is_not(None)
    )
    if not force:
        roots = roots.where(Submission.deleted_at < utcnow() - PURGE_AFTER)
    if project_id is not None:
        roots = roots.where(Submission.project_id == project_id)
    if form is not None:
        roots = roots.where(Submission.form_id == form.id)
    if instance_id is not None:
        roots = roots.where(Submission.instance_id == instance_id)
    by_project: dict[int, list[int]] = {}
    for root_id, project in session.execute(roots):
        by_project.setdefault(project, []).append(root_id)
    total = 0
    for project, root_ids in sorted(by_project.items()):
        purged = 0
        for at in range(0, len(root_ids), PURGE_BATCH):
            some = root_ids[at : at + PURGE_BATCH]
            ids = session.scalars(
                select(Submission.id).where(
                    or_(Submission.id.in_(some), Submission.root_id.in_(some))
                )
            )
            purged += remove(session, project, list(ids))
        if not purged:
            continue  # another purger (a worker process) took them first
        total += purged
        audit.record(
            session,
            actor,
            "submission.purge",
            project_id=project,
            subject=form.xml_form_id if form is not None else None,
            submissions=purged,
        )
    return total


def list_tests(session: Session, draft: FormVersion) -> list[Submission]:
    """Return the submissions sent to test a draft, newest first."""
    stmt = select(Submission).where(
        Submission.form_version_id == draft.id, Submission.root_id.is_(None)
    )
    return list(session.scalars(stmt.order_by(Submission.id.desc())))


def instance_names(session: Session, form: Form, only: int | None = None) -> dict[int, str]:
    """The ``meta/instanceName`` of a form's current processed submissions, by submission id
    (``only``: of that one alone).

    Only a name stored in plain text is given: in versions whose policy protects it (sealed as
    sensitive, as a name computed from an identifier is, or dropped) it is withheld, never
    opened for a list. Read in the database, for the versions that store it plain, so that a
    list costs no decoding of whole records. A submission still waiting for the worker has no
    name yet.
    """
    names: dict[int, str] = {}
    dialect = session.get_bind().dialect.name
    for version_id, path in _plain_name_paths(session, form).items():
        if dialect == "postgresql":
            value = func.json_extract_path_text(cast(SubmissionRecord.data, JSON), "root", path)
        else:
            value = func.json_extract(SubmissionRecord.data, f'$."root"."{path}"')
        stmt = (
            select(SubmissionRecord.submission_id, value)
            .join(Submission, Submission.id == SubmissionRecord.submission_id)
            .where(
                Submission.form_id == form.id,
                Submission.form_version_id == version_id,
                Submission.current,
            )
        )
        if only is not None:
            stmt = stmt.where(Submission.id == only)
        names.update((sid, name) for sid, name in session.execute(stmt) if name)
    return names


def _plain_name_paths(session: Session, form: Form) -> dict[int, str]:
    """Version id -> the path of ``meta/instanceName`` in records, for each of a form's
    versions that has one and stores it in plain text (no PII rule)."""
    paths = {}
    for version in session.scalars(select(FormVersion).where(FormVersion.form_id == form.id)):
        model = records.model_for(version.xml, version.policy)
        path = f"{model.root}/meta/instanceName"
        if model.has_field(path) and model.field(path).pii is None:
            paths[version.id] = path
    return paths


def current_of(session: Session, root: Submission) -> Submission:
    """Return the current version of a logical submission."""
    stmt = select(Submission).where(
        or_(Submission.id == root.id, Submission.root_id == root.id), Submission.current
    )
    return session.scalars(stmt.order_by(Submission.id.desc())).first() or root


def edit(
    session: Session, secrets: vault.Secrets, root: Submission, xml: bytes, origin: Origin
) -> Submission:
    """Store an edited version of a logical submission; return the logical submission."""
    form = session.get_one(Form, root.form_id)
    arrival = arrive(session, form, xml)
    current = current_of(session, root)
    if arrival.deprecated_id is None:
        raise InvalidInput("an edit names the version it replaces in meta/deprecatedID", code=400.2)
    if arrival.deprecated_id != current.instance_id:
        raise Conflict(
            f"the edit replaces {arrival.deprecated_id!r} but the current version is "
            f"{current.instance_id!r}",
            code=409.1,
            deprecatedId=arrival.deprecated_id,
        )
    _check_new(session, form, arrival.instance_id)
    _store(session, secrets, form, arrival, xml, origin, root)
    current.current = False
    root.review_state = "edited"
    root.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        origin.actor,
        "submission.edit",
        project_id=form.project_id,
        subject=root.instance_id,
        version=arrival.instance_id,
    )
    return root


def set_review(
    session: Session,
    root: Submission,
    state: str,
    *,
    actor: Actor,
    secrets: vault.Secrets | None = None,
) -> Submission:
    """Set a logical submission's review state (``received`` clears it).

    Approval applies the submission's entity change to a list that requires approval (given
    ``secrets`` to seal it with).
    """
    if state not in REVIEW_STATES:
        raise InvalidInput(f"unknown review state {state!r}", code=400.8, reviewState=state)
    before = root.review_state or RECEIVED
    root.review_state = None if state == RECEIVED else state
    root.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "submission.review",
        project_id=root.project_id,
        subject=root.instance_id,
        before=before,
        after=state,
    )
    if state == "approved" and before != "approved" and secrets is not None:
        _approved_entity(session, secrets, root)
    return root


def _approved_entity(session: Session, secrets: vault.Secrets, root: Submission) -> None:
    current = session.scalars(
        select(Submission).where(
            or_(Submission.id == root.id, Submission.root_id == root.id),
            Submission.current.is_(True),
        )
    ).first()
    record = (
        session.scalars(
            select(SubmissionRecord).where(SubmissionRecord.submission_id == current.id)
        ).first()
        if current is not None
        else None
    )
    change = _entity_change(current, record) if current and record else None
    if change is not None:
        entityflow.on_approval(session, secrets, change)


def _entity_change(current: Submission, record: SubmissionRecord) -> entitychange.Change | None:
    """The entity change a processed submission's record asks for."""
    version = current.form_version
    model = records.model_for(version.xml, version.policy)
    return entitychange.stored_change(current, model, json.loads(record.data))


def apply_waiting_entities(session: Session, secrets: vault.Secrets, dataset: Dataset) -> int:
    """Apply the entity changes that waited for approval (``?convert=true`` when a list stops
    requiring it): those of processed submissions neither approved (applied already) nor
    rejected, oldest first. Returns how many entities were created or updated."""
    versions = session.scalars(
        select(FormVersion)
        .join(Form, Form.id == FormVersion.form_id)
        .where(Form.project_id == dataset.project_id, FormVersion.published_at.is_not(None))
    )
    sources = [
        v.id
        for v in versions
        if (declared := publishing.declaration_of(v.xml)) is not None
        and declared.dataset == dataset.name
    ]
    waiting = session.scalars(
        select(Submission.id)
        .where(
            Submission.form_version_id.in_(sources),
            Submission.current.is_(True),
            Submission.state == SubmissionState.PROCESSED.value,
        )
        .order_by(Submission.id)
    ).all()
    applied = 0
    for start in range(0, len(waiting), _CONVERT_BATCH):
        chunk = waiting[start : start + _CONVERT_BATCH]
        stmt = (
            select(Submission, SubmissionRecord)
            .join(SubmissionRecord, SubmissionRecord.submission_id == Submission.id)
            .where(Submission.id.in_(chunk))
            .order_by(Submission.id)
        )
        for current, record in session.execute(stmt).all():
            root = session.get(Submission, current.root_id) if current.root_id else current
            if root is None or root.review_state in ("approved", "rejected"):
                continue
            change = _entity_change(current, record)
            if change is not None and entityflow.apply(session, secrets, change, on_approval=True):
                applied += 1
    audit.record(
        session,
        audit.SYSTEM,
        "dataset.convert",
        project_id=dataset.project_id,
        subject=dataset.name,
        applied=applied,
    )
    return applied


def _parts(session: Session, submission: Submission) -> dict[str, SubmissionPart]:
    stmt = select(SubmissionPart).where(SubmissionPart.submission_id == submission.id)
    return {p.name: p for p in session.scalars(stmt)}


def expected_files(submission: Submission) -> tuple[str, ...]:
    """Return the files a submission's current envelope names (``.enc`` names for Collect's)."""
    if submission.envelope == SEALED:
        return tuple(json.loads(submission.manifest).get("files", ()))
    try:
        return tuple(odk.parse_manifest(submission.manifest).files)
    except KeysError:
        return ()


def attachments(session: Session, root: Submission) -> list[tuple[str, bool]]:
    """Return each file the current version expects and whether it has arrived."""
    current = current_of(session, root)
    have = _parts(session, current)
    return [(name, name in have) for name in expected_files(current)]


def add_attachment(
    session: Session,
    secrets: vault.Secrets,
    root: Submission,
    name: str,
    data: bytes,
    *,
    actor: Actor,
) -> None:
    """Seal and store a file the current version expects; the last one queues it for the worker."""
    current = current_of(session, root)
    if current.envelope != SEALED:
        raise Conflict(
            "the files of an encrypted Collect submission arrive over OpenRosa", code=409.1
        )
    if name not in expected_files(current):
        raise NotFound(f"submission {root.instance_id!r} expects no file {name!r}")
    if name in _parts(session, current):
        raise Conflict(f"file {name!r} was already received", code=409.3, name=name)
    aad = _aad(current.project_id, current.form_id, current.instance_id, f"file/{name}")
    blob = json.dumps(_seal(secrets, session, current.project_id, data, aad)).encode()
    session.add(SubmissionPart(submission_id=current.id, name=name, data=blob, size=len(data)))
    current.received_parts += 1
    current.updated_at = utcnow()
    if current.state == SubmissionState.FAILED.value and current.reason == "missing-media":
        current.state = SubmissionState.RECEIVED.value
        current.reason = current.reason_detail = None
    session.flush()
    audit.record(
        session,
        actor,
        "submission.attachment",
        project_id=root.project_id,
        subject=root.instance_id,
        name=name,
        size=len(data),
    )


def open_sealed(
    session: Session, secrets: vault.Secrets, submission: Submission
) -> odk.DecryptedSubmission:
    """Open a sealed submission for the worker (the counterpart of an ODK decryption)."""
    ident = (submission.project_id, submission.form_id, submission.instance_id)
    parts = _parts(session, submission)
    try:
        xml = _open(
            secrets, session, submission.project_id, submission.manifest, _aad(*ident, "xml")
        )
        media = {}
        for name in expected_files(submission):
            if name not in parts:
                raise ProcessingFailed("missing-media", f"{name} never arrived")
            media[name] = _open(
                secrets,
                session,
                submission.project_id,
                parts[name].data,
                _aad(*ident, f"file/{name}"),
            )
    except (KeysError, ValueError, KeyError) as exc:
        raise ProcessingFailed(
            "corrupt-file", f"a sealed part does not open: {type(exc).__name__}"
        ) from None
    return odk.DecryptedSubmission(
        instance_id=submission.instance_id,
        xml=xml,
        media=media,
        signature=odk.SignatureStatus.MISSING,
    )


def remove(session: Session, project_id: int, ids: Sequence[int]) -> int:
    """Delete these submissions for good, with their records, media, envelopes and comments,
    and crypto-shred the vault subjects that only they named (caller's transaction); return
    how many logical submissions this removed (none that another remover took first). Every
    version of a logical submission must be among them."""
    if not ids:
        return 0
    subjects: set[int] = set()
    for data in session.scalars(
        select(SubmissionRecord.data).where(SubmissionRecord.submission_id.in_(ids))
    ):
        subjects.update(json.loads(data).get("subjects", ()))
    for table in (SubmissionMedia, SubmissionRecord, SubmissionPart, SubmissionComment):
        session.execute(delete(table).where(table.submission_id.in_(ids)))
    # Edits first: each points at its first version.
    session.execute(
        delete(Submission).where(Submission.id.in_(ids), Submission.root_id.is_not(None))
    )
    removed = session.execute(delete(Submission).where(Submission.id.in_(ids)))
    for subject_id in sorted(subjects):
        if not erasure.linked_submissions(session, project_id, subject_id):
            vault.shred(session, subject_id)
    session.flush()
    return int(removed.rowcount)  # type: ignore[attr-defined]
