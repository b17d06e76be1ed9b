"""Form definitions over the API: create from an XLSForm or an XForm, drafts, attachments, publish.

A draft is a FormVersion whose ``published_at`` is NULL; a form has at most one. Every definition
carries the project's active public key: XLSForms are built with it, uploaded XForms get it
injected. Publishing re-keys a draft whose key is no longer active, and ``version`` rewrites the
version attribute, so the bytes stored are always the bytes Collect is served (and hashed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from collector import audit, keyring, publishing, submissions, vault
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, NotFound
from collector.models import (
    Form,
    FormAttachment,
    FormState,
    FormVersion,
    Submission,
    as_utc,
    utcnow,
)
from forms.policy import PIIPolicy

XLS_TYPE = "application/vnd.ms-excel"
XML_TYPES = frozenset({publishing.XML_TYPE, "text/xml"})
WORKBOOK_TYPES = frozenset({publishing.XLSX_TYPE, XLS_TYPE})


@dataclass(frozen=True)
class Definition:
    """A checked, keyed form definition, ready to become a version."""

    xml: bytes = field(repr=False)
    form_id: str
    version: str
    title: str
    policy_json: str
    key_generation_id: int
    source: bytes | None = field(repr=False)
    source_type: str
    warnings: tuple[str, ...] = ()


def _from_workbook(
    session: Session, project_id: int, data: bytes, content_type: str, fallback: str | None
) -> Definition:
    built, generation_id = publishing.build_for_project(
        session, project_id, data, form_id_fallback=fallback
    )
    return Definition(
        xml=built.xml,
        form_id=built.form_id,
        version=built.version,
        title=built.title,
        policy_json=built.policy.to_json(),
        key_generation_id=generation_id,
        source=data,
        source_type=content_type,
        warnings=tuple(w.message for w in built.warnings if w.level != "error"),
    )


def _from_xform(session: Session, project_id: int, data: bytes) -> Definition:
    xml, model, generation_id = publishing.prepare_xform(session, project_id, data)
    return Definition(
        xml=xml,
        form_id=model.form_id,
        version=model.version,
        title=model.title or model.form_id,
        policy_json=PIIPolicy().to_json(),  # an XForm has no pii columns: nothing to apply
        key_generation_id=generation_id,
        source=data,
        source_type=publishing.XML_TYPE,
    )


def definition_from(
    session: Session,
    project_id: int,
    data: bytes,
    content_type: str,
    *,
    form_id_fallback: str | None = None,
) -> Definition:
    """Build (XLSForm) or check and key (XForm) an uploaded definition."""
    if not data:
        raise InvalidInput("the request has no form definition", code=400.2)
    if content_type in WORKBOOK_TYPES:
        return _from_workbook(session, project_id, data, content_type, form_id_fallback)
    if content_type in XML_TYPES:
        return _from_xform(session, project_id, data)
    raise InvalidInput(
        f"a form definition is XML or an XLSForm workbook, not {content_type or 'untyped'}",
        code=415.1,
        contentType=content_type,
    )


def _new_version(form: Form, definition: Definition, *, published: bool) -> FormVersion:
    now = utcnow()
    return FormVersion(
        form_id=form.id,
        version=definition.version,
        xml=definition.xml,
        md5=hashlib.md5(definition.xml).hexdigest(),
        policy=definition.policy_json,
        key_generation_id=definition.key_generation_id,
        source=definition.source,
        source_type=definition.source_type,
        created_at=now,
        published_at=now if published else None,
    )


def create_form(
    session: Session, project_id: int, definition: Definition, *, publish: bool, actor: Actor
) -> Form:
    """Create a form with its first definition, as a draft or published."""
    existing = session.scalars(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == definition.form_id)
    ).one_or_none()
    if existing is not None:
        raise Conflict(
            f"a form with id {definition.form_id!r} already exists in this project; "
            "upload a new definition as its draft",
            code=409.3,
            xmlFormId=definition.form_id,
        )
    form = Form(project_id=project_id, xml_form_id=definition.form_id, name=definition.title)
    form.state = FormState.OPEN.value
    session.add(form)
    session.flush()
    version = _new_version(form, definition, published=publish)
    session.add(version)
    session.flush()
    publishing.expect_attachments(session, version, None)
    if publish:
        entity = publishing.declaration_of(version.xml)
        publishing.declare_entity_list(session, project_id, entity, actor=actor)
    audit.record(
        session,
        actor,
        "form.create",
        project_id=project_id,
        subject=form.xml_form_id,
        version=definition.version,
        published=publish,
    )
    return form


def draft_of(session: Session, form: Form) -> FormVersion | None:
    """Return a form's draft, if it has one."""
    stmt = select(FormVersion).where(
        FormVersion.form_id == form.id, FormVersion.published_at.is_(None)
    )
    return session.scalars(stmt.order_by(FormVersion.id.desc())).first()


def get_draft(session: Session, form: Form) -> FormVersion:
    """Return a form's draft or raise NotFound."""
    draft = draft_of(session, form)
    if draft is None:
        raise NotFound(f"form {form.xml_form_id!r} has no draft", xmlFormId=form.xml_form_id)
    return draft


def draft_token(kek: bytes, draft: FormVersion) -> str:
    """The token of a draft's test URLs (``/v1/test/<token>/…``), as Central's ``draftToken``.

    Derived, not stored: a keyed MAC of the draft's row and definition under a key derived from
    the master key, so every new draft (a new row) or definition gets a new token, and nothing
    in the database opens the test URLs. A master-key change (rewrap) changes every token.
    """
    key = hmac.new(kek, b"collector draft-test token", hashlib.sha256).digest()
    made = as_utc(draft.created_at).isoformat()  # a row id alone may come back on SQLite
    mac = hmac.new(key, f"{draft.id}\0{draft.md5}\0{made}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def draft_for_token(session: Session, kek: bytes, form: Form, token: str) -> FormVersion:
    """Return the draft a test token opens, or raise NotFound (also for a wrong token)."""
    draft = draft_of(session, form)
    if draft is None or not hmac.compare_digest(draft_token(kek, draft), token):
        raise NotFound(f"form {form.xml_form_id!r} has no draft open to this test token")
    return draft


def purge_test_submissions(session: Session, draft: FormVersion) -> int:
    """Delete the submissions sent to test a draft, with their records, media and envelopes,
    and erase the vault subjects only they named (test data may name real people); return
    how many submissions went. Run before a draft is published or discarded."""
    ids = list(session.scalars(select(Submission.id).where(Submission.form_version_id == draft.id)))
    submissions.remove(session, draft.form.project_id, ids)
    return len(ids)


def discard_draft(session: Session, form: Form, *, actor: Actor | None = None) -> bool:
    """Delete a form's draft, its attachments and its test submissions; return False if there
    was none."""
    draft = draft_of(session, form)
    if draft is None:
        return False
    purged = purge_test_submissions(session, draft)
    session.execute(delete(FormAttachment).where(FormAttachment.form_version_id == draft.id))
    session.delete(draft)
    session.flush()
    if actor is not None:
        audit.record(
            session,
            actor,
            "form.draft.discard",
            project_id=form.project_id,
            subject=form.xml_form_id,
            testSubmissions=purged,
        )
    return True


def save_draft(
    session: Session, form: Form, definition: Definition | None, *, actor: Actor
) -> FormVersion:
    """Start a new draft from a definition, or from the published version when there is none."""
    published = publishing.current_version(session, form.id)
    if definition is None:
        if published is None:
            raise NotFound(f"form {form.xml_form_id!r} has no published version to copy")
        definition = _copy(session, form, published)
    elif definition.form_id != form.xml_form_id:
        raise InvalidInput(
            f"the definition is of form {definition.form_id!r}, not {form.xml_form_id!r}",
            code=400.8,
            xmlFormId=definition.form_id,
        )
    discard_draft(session, form)
    draft = _new_version(form, definition, published=False)
    session.add(draft)
    session.flush()
    publishing.expect_attachments(session, draft, published)
    audit.record(
        session,
        actor,
        "form.draft",
        project_id=form.project_id,
        subject=form.xml_form_id,
        version=definition.version,
    )
    return draft


def _copy(session: Session, form: Form, version: FormVersion) -> Definition:
    return Definition(
        version.xml,
        form.xml_form_id,
        version.version,
        form.name or form.xml_form_id,
        version.policy,
        version.key_generation_id or 0,
        version.source,
        version.source_type or publishing.XML_TYPE,
    )


def upload_attachment(
    session: Session,
    form: Form,
    name: str,
    data: bytes,
    content_type: str | None,
    *,
    actor: Actor,
    secrets: vault.Secrets,
) -> FormAttachment:
    """Store a file the draft references, sealed (a name it does not reference is a 404)."""
    draft = get_draft(session, form)
    slot = session.scalars(
        select(FormAttachment).where(
            FormAttachment.form_version_id == draft.id, FormAttachment.name == name
        )
    ).one_or_none()
    if slot is None:
        raise NotFound(f"the draft of {form.xml_form_id!r} does not reference a file {name!r}")
    slot.key_version, slot.data = publishing.seal_attachment(
        secrets, session, form.project_id, name, data
    )
    slot.md5 = hashlib.md5(data).hexdigest()
    slot.content_type = (content_type or "application/octet-stream")[:100]
    slot.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "form.attachment",
        project_id=form.project_id,
        subject=form.xml_form_id,
        name=name,
        size=len(data),
    )
    return slot


def _rekeyed(session: Session, form: Form, draft: FormVersion) -> tuple[bytes, int]:
    active = keyring.active_generation(session, form.project_id)
    if draft.key_generation_id == active.id:
        return draft.xml, active.id
    key = base64.b64encode(active.public_key_der).decode()
    return publishing.inject_key(draft.xml, key), active.id


def publish_draft(
    session: Session, form: Form, *, version: str | None = None, actor: Actor
) -> FormVersion:
    """Publish the draft (as ``version`` when given); the version must be new for the form."""
    draft = get_draft(session, form)
    xml, generation_id = _rekeyed(session, form, draft)
    if version is not None:
        xml = publishing.set_version(xml, version)
    wanted = version if version is not None else draft.version
    if publishing.find_version(session, form.id, wanted) is not None:
        raise Conflict(
            f"version {wanted!r} of form {form.xml_form_id!r} is already published; "
            "publish the draft under another version",
            code=409.6,
            xmlFormId=form.xml_form_id,
            version=wanted,
        )
    purged = purge_test_submissions(session, draft)
    draft.xml, draft.md5, draft.version = xml, hashlib.md5(xml).hexdigest(), wanted
    draft.key_generation_id = generation_id
    draft.published_at = form.updated_at = utcnow()
    session.flush()
    declared = publishing.declaration_of(xml)
    publishing.declare_entity_list(session, form.project_id, declared, actor=actor)
    audit.record(
        session,
        actor,
        "form.publish",
        project_id=form.project_id,
        subject=form.xml_form_id,
        version=wanted,
        key_generation_id=generation_id,
        testSubmissions=purged,
    )
    return draft
