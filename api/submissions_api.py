"""Submissions: create from XML (sealed on arrival), edit, review, comments, attachments.

GET   …/forms/<f>/submissions                      POST (XML body, ?deviceID=)
GET   …/forms/<f>/draft/submissions                the draft's test submissions
GET   …/forms/<f>/submissions/<iid>                PUT (edit: XML with meta/deprecatedID)
PATCH …/forms/<f>/submissions/<iid>                {reviewState}
DELETE …/forms/<f>/submissions/<iid>               POST …/<iid>/restore (…/submissions?deleted=true)
GET   …/forms/<f>/submissions/<iid>.xml            501: values are served pseudonymised only
GET   …/forms/<f>/submissions/<iid>/attachments    POST …/attachments/<name> (raw, chunked)
GET   …/forms/<f>/submissions/<iid>/attachments/<name>  the decrypted file (see collector.media)
GET   …/forms/<f>/submissions/<iid>/comments       POST {body}
GET   …/forms/<f>/submissions/<iid>/audits         newest first, entity changes included

Reads return metadata only; the values are served, pseudonymised, by OData and the exports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api import context
from api.audits import audit_row
from api.openapi import operation
from api.schemas.audits import AuditSchema
from api.schemas.common import SuccessSchema
from api.schemas.submissions import (
    CommentCreateSchema,
    CommentSchema,
    ReviewSchema,
    SubmissionAttachmentSchema,
    SubmissionSchema,
)
from collector import audit, comments, drafts, media, publishing, submissions
from collector.errors import CollectorError, InvalidInput
from collector.models import Form, Submission
from collector.roles import Action

bp = Blueprint(
    "submissions", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>"
)
XML_TYPES = ("application/xml", "text/xml")


class PlaintextWithheld(CollectorError):
    code = 501.1
    default_message = (
        "this server never serves a submission's plaintext: read its values, pseudonymised, "
        "through OData (…/forms/{xmlFormId}.svc) or an export"
    )


def _view(root: Submission, current: Submission, name: str | None = None) -> dict[str, Any]:
    submitter = root.submitter_id or root.creator_user_id
    kind = "app-user" if root.submitter_id else "user" if root.creator_user_id else None
    return {
        "instance_id": root.instance_id,
        "submitter_id": submitter or 0,
        "submitter_type": kind,
        "device_id": root.device_id,
        "user_agent": root.user_agent,
        "review_state": root.review_state,
        "instance_name": name,
        "created_at": root.created_at,
        "updated_at": root.updated_at,
        "deleted_at": root.deleted_at,
        "status": current.state,
        "failure_reason": current.reason,
        "current_version": {
            "instance_id": current.instance_id,
            "created_at": current.created_at,
            "status": current.state,
        },
    }


def _views(session: Session, form: Form, roots: list[Submission]) -> list[dict[str, Any]]:
    if not roots:
        return []
    stmt = select(Submission).where(Submission.form_id == form.id, Submission.current)
    if len(roots) == 1:
        stmt = stmt.where(or_(Submission.id == roots[0].id, Submission.root_id == roots[0].id))
    current = {s.root_id or s.id: s for s in session.scalars(stmt)}
    nows = [current.get(r.id, r) for r in roots]
    names = submissions.instance_names(session, form, nows[0].id if len(roots) == 1 else None)
    return [_view(r, now, names.get(now.id)) for r, now in zip(roots, nows, strict=True)]


def _form(project_id: int, xml_form_id: str, action: Action) -> tuple[Form, Any]:
    actor = context.require(action, project_id)
    return publishing.get_form(context.db(), project_id, xml_form_id), actor


def _xml_body() -> bytes:
    if request.mimetype not in XML_TYPES:
        raise InvalidInput("a submission is sent as application/xml", code=415.1)
    data = context.raw_body()
    if not data:
        raise InvalidInput("the request has no submission XML", code=400.2)
    return data


def _wake(submission: Submission) -> None:
    if submission.received_parts == submission.expected_parts:
        current_app.extensions["collector.wake"].set()


@bp.get("/submissions")
@operation(
    "List submissions (metadata)",
    "project",
    response=SubmissionSchema,
    many=True,
    query=(("deleted", "boolean", "the deleted submissions instead (they can be restored)"),),
)
def list_submissions(project_id: int, xml_form_id: str) -> Response:
    """List a form's submissions (or its deleted ones), newest first."""
    form, _ = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    session = context.db()
    listed = (
        submissions.list_deleted(session, form)
        if context.flag("deleted", False)
        else submissions.list_logical(session, form)
    )
    return context.answer(SubmissionSchema(), _views(session, form, listed), many=True)


@bp.delete("/submissions/<instance_id>")
@operation(
    "Delete a submission (every version; restorable until purged)",
    "project",
    response=SuccessSchema,
)
def delete_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Delete a logical submission: gone from every view and export until it is restored."""
    return _trash(project_id, xml_form_id, instance_id, submissions.delete_logical)


@bp.post("/submissions/<instance_id>/restore")
@operation("Restore a deleted submission", "project", response=SuccessSchema)
def restore_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Bring a deleted submission back (404 unless it is deleted and not yet purged)."""
    return _trash(project_id, xml_form_id, instance_id, submissions.restore_logical)


def _trash(
    project_id: int, xml_form_id: str, instance_id: str, change: Callable[..., None]
) -> Response:
    form, actor = _form(project_id, xml_form_id, Action.SUBMISSION_DELETE)
    change(context.db(), form, instance_id, actor=actor)
    context.commit()
    return context.success()


@bp.get("/draft/submissions")
@operation(
    "Submissions sent to test the draft (deleted when it is published or discarded)",
    "project",
    response=SubmissionSchema,
    many=True,
)
def list_test_submissions(project_id: int, xml_form_id: str) -> Response:
    """List the draft's test submissions (metadata), newest first."""
    form, _ = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    session = context.db()
    draft = drafts.get_draft(session, form)
    roots = submissions.list_tests(session, draft)
    return context.answer(SubmissionSchema(), _views(session, form, roots), many=True)


@bp.post("/submissions")
@operation(
    "Create a submission from its XML (sealed on arrival, processed by the worker)",
    "project",
    response=SubmissionSchema,
    consumes=XML_TYPES,
    errors=(409, 415),
    query=(("deviceID", "string", "the device that made it"),),
)
def create_submission(project_id: int, xml_form_id: str) -> Response:
    """Seal and store a submission; the answer has no ``attachments`` key (pyodk adds it)."""
    form, actor = _form(project_id, xml_form_id, Action.SUBMISSION_WRITE)
    origin = submissions.Origin(actor, context.device_id(), request.headers.get("User-Agent"))
    created = submissions.create(context.db(), context.secrets(), form, _xml_body(), origin)
    result = _view(created, created)
    context.commit()
    _wake(created)
    return context.answer(SubmissionSchema(), result)


@bp.get("/submissions/<instance_id>")
@operation("One submission (metadata)", "project", response=SubmissionSchema)
def get_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Return a logical submission, named by its first instanceID."""
    form, _ = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    return context.answer(SubmissionSchema(), _views(session, form, [root])[0])


@bp.put("/submissions/<instance_id>")
@operation(
    "Edit a submission (XML naming the replaced version in meta/deprecatedID)",
    "project",
    response=SubmissionSchema,
    consumes=XML_TYPES,
    errors=(409, 415),
)
def edit_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Store a new version of a submission; the older one keeps its record."""
    form, actor = _form(project_id, xml_form_id, Action.SUBMISSION_WRITE)
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    origin = submissions.Origin(actor, None, request.headers.get("User-Agent"))
    submissions.edit(session, context.secrets(), root, _xml_body(), origin)
    result = _views(session, form, [root])[0]
    context.commit()
    _wake(submissions.current_of(session, root))
    return context.answer(SubmissionSchema(), result)


@bp.patch("/submissions/<instance_id>")
@operation("Set the review state", "project", body=ReviewSchema, response=SubmissionSchema)
def review_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Set a submission's review state (received, hasIssues, edited, approved, rejected)."""
    form, actor = _form(project_id, xml_form_id, Action.SUBMISSION_REVIEW)
    body = context.load(ReviewSchema(), context.json_body())
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    submissions.set_review(
        session, root, body["review_state"], actor=actor, secrets=context.secrets()
    )
    result = _views(session, form, [root])[0]
    context.commit()
    return context.answer(SubmissionSchema(), result)


@bp.get("/submissions/<instance_id>.xml")
@operation(
    "Not served: values are pseudonymised and read through OData or exports",
    "project",
    errors=(501,),
)
def submission_xml(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Refuse, pointing to OData and exports."""
    form, _ = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    submissions.get_logical(context.db(), form, instance_id)
    raise PlaintextWithheld()


@bp.get("/submissions/<instance_id>/attachments")
@operation(
    "The files a submission expects", "project", response=SubmissionAttachmentSchema, many=True
)
def list_attachments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """List each expected file and whether it arrived."""
    form, _ = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    rows = [{"name": n, "exists": e} for n, e in submissions.attachments(session, root)]
    return context.answer(SubmissionAttachmentSchema(), rows, many=True)


@bp.get("/submissions/<instance_id>/attachments/<name>")
@operation(
    "Download a decrypted file (files of sensitive or identifying questions: admins only)",
    "project",
    produces="application/octet-stream",
    errors=(409,),
)
def download_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    """Send one file of a processed submission, opened from its sealed copy (audited)."""
    form, actor = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    found = media.media_file(session, context.secrets(), root, name, actor=actor)
    context.commit()
    response = Response(found.data, mimetype=found.content_type)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(found.name)}"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/submissions/<instance_id>/attachments/<name>")
@operation(
    "Upload a file the submission expects (raw body, may be chunked)",
    "project",
    response=SuccessSchema,
    consumes=("application/octet-stream", "*/*"),
    errors=(409,),
)
def upload_attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    """Seal and store an attachment; the last one queues the submission for processing."""
    form, actor = _form(project_id, xml_form_id, Action.SUBMISSION_WRITE)
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    data = context.raw_body()
    submissions.add_attachment(session, context.secrets(), root, name, data, actor=actor)
    context.commit()
    _wake(submissions.current_of(session, root))
    return context.success()


@bp.get("/submissions/<instance_id>/audits")
@operation(
    "What happened to a submission, newest first (review, edits, comments, entity changes "
    "and errors)",
    "project",
    response=AuditSchema,
    many=True,
)
def submission_audits(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Return the audit entries of a logical submission and of every version of it."""
    form, _ = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    ids = session.scalars(
        select(Submission.instance_id).where(
            or_(Submission.id == root.id, Submission.root_id == root.id)
        )
    ).all()
    rows = [audit_row(e) for e in audit.for_submission(session, project_id, list(ids))]
    return context.answer(AuditSchema(), rows, many=True)


@bp.get("/submissions/<instance_id>/comments")
@operation("Comments", "project", response=CommentSchema, many=True)
def list_comments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """List a submission's comments, oldest first."""
    form, _ = _form(project_id, xml_form_id, Action.SUBMISSION_READ)
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    rows = [
        {"body": body, "actor_id": row.user_id or 0, "created_at": row.created_at}
        for row, body in comments.comments(session, context.secrets(), root)
    ]
    return context.answer(CommentSchema(), rows, many=True)


@bp.post("/submissions/<instance_id>/comments")
@operation("Comment on a submission", "project", body=CommentCreateSchema, response=CommentSchema)
def add_comment(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Add a comment (sealed at rest; audited without its text)."""
    form, actor = _form(project_id, xml_form_id, Action.SUBMISSION_REVIEW)
    body = context.load(CommentCreateSchema(), context.json_body())
    session = context.db()
    root = submissions.get_logical(session, form, instance_id)
    row = comments.add_comment(session, context.secrets(), root, body["body"], actor=actor)
    result = {"body": body["body"], "actor_id": row.user_id or 0, "created_at": row.created_at}
    context.commit()
    return context.answer(CommentSchema(), result)
