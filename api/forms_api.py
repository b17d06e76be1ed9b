"""Forms: create from an XLSForm or XForm, drafts, attachments, publish, versions.

GET   /v1/projects/<p>/forms                       POST XForm/XLSForm (?publish, ?ignoreWarnings)
GET   /v1/projects/<p>/forms/<f>                   PATCH {state}
GET   /v1/projects/<p>/forms/<f>.xml               the bytes Collect is served
GET   /v1/projects/<p>/forms/<f>/versions          published versions, newest first
GET   /v1/projects/<p>/forms/<f>/attachments       of the published version
POST  /v1/projects/<p>/forms/<f>/draft             new draft (a definition, or a copy if empty)
GET   /v1/projects/<p>/forms/<f>/draft[.xml]       DELETE …/draft
GET   /v1/projects/<p>/forms/<f>/draft/attachments POST …/draft/attachments/<name> (raw body)
POST  /v1/projects/<p>/forms/<f>/draft/publish     ?version= renames the draft's version
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import context
from api.openapi import operation
from api.schemas.common import SuccessSchema
from api.schemas.forms import FormAttachmentSchema, FormSchema, FormUpdateSchema
from collector import audit, drafts, keyring, publishing
from collector.errors import InvalidInput, NotFound
from collector.models import Form, FormVersion, Submission, on_view
from collector.roles import Action

bp = Blueprint("forms", __name__, url_prefix="/v1/projects/<int:project_id>/forms")

UPLOAD_TYPES = (
    publishing.XML_TYPE,
    publishing.XLSX_TYPE,
    drafts.XLS_TYPE,
)
UPLOAD_QUERY = (
    ("ignoreWarnings", "boolean", "create even if the XLSForm has warnings"),
    ("publish", "boolean", "publish at once instead of creating a draft"),
)


@dataclass(frozen=True)
class FormView:
    project_id: int
    xml_form_id: str
    name: str | None
    version: str
    hash: str
    state: str
    key_id: int | None
    enketo_id: None
    submissions: int
    created_at: datetime
    updated_at: datetime | None
    published_at: datetime | None
    #: For a draft: the token of its test URLs (Central's ``draftToken``).
    draft_token: str | None = None


def form_view(session: Session, form: Form, version: FormVersion | None = None) -> FormView:
    """Describe a form by a version: the given one, else the published one, else the draft."""
    shown = (
        version or publishing.current_version(session, form.id) or drafts.get_draft(session, form)
    )
    count = session.scalar(
        select(func.count()).where(
            Submission.form_id == form.id, Submission.root_id.is_(None), on_view()
        )
    )
    return FormView(
        form.project_id,
        form.xml_form_id,
        form.name,
        shown.version,
        shown.md5,
        form.state,
        shown.key_generation_id,
        None,
        int(count or 0),
        form.created_at,
        form.updated_at,
        shown.published_at,
        drafts.draft_token(context.secrets().kek, shown) if shown.published_at is None else None,
    )


def _form(project_id: int, xml_form_id: str, action: Action) -> tuple[Form, Any]:
    actor = context.require(action, project_id)
    return publishing.get_form(context.db(), project_id, xml_form_id), actor


def _definition(project_id: int) -> drafts.Definition:
    fallback = request.headers.get("X-XlsForm-FormId-Fallback")
    definition = drafts.definition_from(
        context.db(),
        project_id,
        context.raw_body(),
        request.mimetype,
        form_id_fallback=unquote(fallback) if fallback else None,
    )
    if definition.warnings and not context.flag("ignoreWarnings", False):
        raise InvalidInput(
            "the XLSForm is valid but has warnings: fix them or send ?ignoreWarnings=true",
            code=400.16,
            warnings=list(definition.warnings),
        )
    return definition


@bp.get("")
@operation("List forms", "project", response=FormSchema, many=True)
def list_forms(project_id: int) -> Response:
    """List a project's forms (with a published version or a draft)."""
    context.require(Action.FORM_READ, project_id)
    session = context.db()
    keyring.get_project(session, project_id)
    forms = session.scalars(
        select(Form).where(Form.project_id == project_id).order_by(Form.xml_form_id)
    )
    rows = [form_view(session, f) for f in forms]
    return context.answer(FormSchema(), rows, many=True)


@bp.post("")
@operation(
    "Create a form from an XForm or an XLSForm (the project key is injected)",
    "project",
    response=FormSchema,
    consumes=UPLOAD_TYPES,
    query=UPLOAD_QUERY,
    errors=(409, 415),
)
def create_form(project_id: int) -> Response:
    """Create a form; by default as a draft, published at once with ``?publish=true``."""
    actor = context.require(Action.FORM_MANAGE, project_id)
    session = context.db()
    keyring.get_project(session, project_id)
    publish = context.flag("publish", False)
    form = drafts.create_form(
        session, project_id, _definition(project_id), publish=publish, actor=actor
    )
    result = form_view(session, form)
    context.commit()
    return context.answer(FormSchema(), result)


@bp.get("/<xml_form_id>")
@operation("One form", "project", response=FormSchema)
def get_form(project_id: int, xml_form_id: str) -> Response:
    """Return a form."""
    form, _ = _form(project_id, xml_form_id, Action.FORM_READ)
    return context.answer(FormSchema(), form_view(context.db(), form))


@bp.patch("/<xml_form_id>")
@operation("Open or close a form", "project", body=FormUpdateSchema, response=FormSchema)
def update_form(project_id: int, xml_form_id: str) -> Response:
    """Set a form's state: open, closing (no new downloads) or closed (no submissions)."""
    actor = context.require(Action.FORM_MANAGE, project_id)
    body = context.load(FormUpdateSchema(), context.json_body())
    session = context.db()
    form = publishing.set_state(session, project_id, xml_form_id, body["state"])
    audit.record(
        session,
        actor,
        "form.state",
        project_id=project_id,
        subject=xml_form_id,
        state=body["state"],
    )
    result = form_view(session, form)
    context.commit()
    return context.answer(FormSchema(), result)


def _xml(version: FormVersion) -> Response:
    return Response(version.xml, content_type="application/xml; charset=utf-8")


@bp.get("/<xml_form_id>.xml")
@operation("The published XForm, as Collect gets it", "project", produces="application/xml")
def form_xml(project_id: int, xml_form_id: str) -> Response:
    """Serve the published definition's exact bytes."""
    form, _ = _form(project_id, xml_form_id, Action.FORM_READ)
    version = publishing.current_version(context.db(), form.id)
    if version is None:
        raise NotFound(f"form {xml_form_id!r} has no published version")
    return _xml(version)


@bp.get("/<xml_form_id>/versions")
@operation("Published versions, newest first", "project", response=FormSchema, many=True)
def versions(project_id: int, xml_form_id: str) -> Response:
    """List a form's published versions."""
    form, _ = _form(project_id, xml_form_id, Action.FORM_READ)
    session = context.db()
    rows = [form_view(session, form, v) for v in publishing.published_versions(session, form.id)]
    return context.answer(FormSchema(), rows[::-1], many=True)


def _attachment_rows(version: FormVersion) -> list[dict[str, Any]]:
    session = context.db()
    kinds = publishing.attachment_kinds(version.xml)
    rows = []
    for a in publishing.attachments(session, version):
        linked = publishing.entity_list_of(session, version.form.project_id, a) is not None
        rows.append(
            {
                "name": a.name,
                "type": kinds.get(a.name, "file"),
                "hash": a.md5,
                "exists": a.data is not None or linked,
                "blob_exists": a.data is not None,
                "dataset_exists": linked,
                "updated_at": a.updated_at if a.data is not None else None,
            }
        )
    return rows


@bp.get("/<xml_form_id>/attachments")
@operation(
    "Attachments of the published version", "project", response=FormAttachmentSchema, many=True
)
def attachments(project_id: int, xml_form_id: str) -> Response:
    """List the files the published definition references."""
    form, _ = _form(project_id, xml_form_id, Action.FORM_READ)
    version = publishing.current_version(context.db(), form.id)
    if version is None:
        raise NotFound(f"form {xml_form_id!r} has no published version")
    return context.answer(FormAttachmentSchema(), _attachment_rows(version), many=True)


@bp.post("/<xml_form_id>/draft")
@operation(
    "Start a draft: a new definition, or (empty body) a copy of the published one",
    "project",
    response=SuccessSchema,
    consumes=UPLOAD_TYPES,
    query=UPLOAD_QUERY[:1],
)
def create_draft(project_id: int, xml_form_id: str) -> Response:
    """Replace the draft with a new definition or a copy of the published version."""
    form, actor = _form(project_id, xml_form_id, Action.FORM_MANAGE)
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
    definition = _definition(project_id) if has_body else None
    drafts.save_draft(context.db(), form, definition, actor=actor)
    context.commit()
    return context.success()


@bp.get("/<xml_form_id>/draft")
@operation("The draft", "project", response=FormSchema)
def get_draft(project_id: int, xml_form_id: str) -> Response:
    """Return the form as its draft describes it."""
    form, _ = _form(project_id, xml_form_id, Action.FORM_READ)
    session = context.db()
    return context.answer(FormSchema(), form_view(session, form, drafts.get_draft(session, form)))


@bp.delete("/<xml_form_id>/draft")
@operation("Discard the draft", "project", response=SuccessSchema)
def delete_draft(project_id: int, xml_form_id: str) -> Response:
    """Delete the draft and its attachments."""
    form, actor = _form(project_id, xml_form_id, Action.FORM_MANAGE)
    if not drafts.discard_draft(context.db(), form, actor=actor):
        raise NotFound(f"form {xml_form_id!r} has no draft")
    context.commit()
    return context.success()


@bp.get("/<xml_form_id>/draft.xml")
@operation("The draft's XForm", "project", produces="application/xml")
def draft_xml(project_id: int, xml_form_id: str) -> Response:
    """Serve the draft definition."""
    form, _ = _form(project_id, xml_form_id, Action.FORM_READ)
    return _xml(drafts.get_draft(context.db(), form))


@bp.get("/<xml_form_id>/draft/attachments")
@operation("Attachments of the draft", "project", response=FormAttachmentSchema, many=True)
def draft_attachments(project_id: int, xml_form_id: str) -> Response:
    """List the files the draft references and which have been uploaded."""
    form, _ = _form(project_id, xml_form_id, Action.FORM_READ)
    draft = drafts.get_draft(context.db(), form)
    return context.answer(FormAttachmentSchema(), _attachment_rows(draft), many=True)


@bp.post("/<xml_form_id>/draft/attachments/<name>")
@operation(
    "Upload a file the draft references (raw body, may be chunked)",
    "project",
    response=SuccessSchema,
    consumes=("application/octet-stream", "*/*"),
)
def upload_draft_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    """Store a draft attachment."""
    form, actor = _form(project_id, xml_form_id, Action.FORM_MANAGE)
    data = context.raw_body()
    drafts.upload_attachment(
        context.db(),
        form,
        name,
        data,
        request.mimetype,
        actor=actor,
        secrets=context.secrets(),
    )
    context.commit()
    return context.success()


@bp.post("/<xml_form_id>/draft/publish")
@operation(
    "Publish the draft",
    "project",
    response=SuccessSchema,
    query=(("version", "string", "publish under this version instead"),),
    errors=(409,),
)
def publish_draft(project_id: int, xml_form_id: str) -> Response:
    """Publish the draft, re-keyed if the project's key changed since it was made."""
    form, actor = _form(project_id, xml_form_id, Action.FORM_MANAGE)
    version = request.args.get("version")
    drafts.publish_draft(context.db(), form, version=version or None, actor=actor)
    context.commit()
    return context.success()
