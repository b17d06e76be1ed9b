"""Testing a draft on a device, as Central does: OpenRosa under the draft's test token.

GET  /v1/test/<token>/projects/<p>/forms/<f>/draft/formList     the draft alone
GET  /v1/test/<token>/projects/<p>/forms/<f>/draft.xml
GET  /v1/test/<token>/projects/<p>/forms/<f>/draft/manifest
GET  /v1/test/<token>/projects/<p>/forms/<f>/draft/attachments/<name>
HEAD /v1/test/<token>/projects/<p>/forms/<f>/draft/submission       -> 204
POST /v1/test/<token>/projects/<p>/forms/<f>/draft/submission       -> 201 once stored

Collect is configured with ``…/forms/<f>/draft`` as its server URL (the draft's QR code). The
token is the draft's (``drafts.draft_token``, shown as ``draftToken``): a new draft has a new
one, and publishing or discarding the draft closes its URLs. Test submissions go through the
same intake, decryption and pseudonymisation as real ones, but are listed only as the draft's
(``GET …/forms/<f>/draft/submissions``), change no entity, and are deleted with the draft or
when it is published.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.orm import Session

from api import context
from api.openrosa import (
    attachment_response,
    form_list_response,
    instance,
    manifest_response,
    openrosa_headers,
    openrosa_message,
    upload_parts,
    xform_item,
    xml_response,
)
from collector import drafts, intake, publishing

bp = Blueprint(
    "drafttest",
    __name__,
    url_prefix="/v1/test/<token>/projects/<int:project_id>/forms/<xml_form_id>",
)


@bp.url_value_preprocessor
def open_draft(_endpoint: str | None, values: dict[str, object] | None) -> None:
    assert values is not None
    token = str(values.pop("token"))
    session: Session = instance().sessions()
    g.db = session
    form = publishing.get_form(session, int(str(values["project_id"])), str(values["xml_form_id"]))
    g.form, g.draft = form, drafts.draft_for_token(session, instance().kek, form, token)
    g.base = (
        f"{context.origin()}/v1/test/{token}/projects/{form.project_id}"
        f"/forms/{quote(form.xml_form_id, safe='')}"
    )


@bp.teardown_request
def close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


@bp.get("/draft/formList")
def draft_form_list(project_id: int, xml_form_id: str) -> Response:
    """List the draft, as the only form of this server URL."""
    draft = g.draft
    manifest = f"{g.base}/draft/manifest" if publishing.attachments(g.db, draft) else None
    return form_list_response([xform_item(g.form, draft, f"{g.base}/draft.xml", manifest)])


@bp.get("/draft.xml")
def draft_xml(project_id: int, xml_form_id: str) -> Response:
    """Serve the draft's XForm, the bytes whose md5 the list gave."""
    return xml_response(g.draft.xml)


@bp.get("/draft/manifest")
def draft_manifest(project_id: int, xml_form_id: str) -> Response:
    """List the draft's files."""
    return manifest_response(g.db, project_id, g.draft, f"{g.base}/draft/attachments")


@bp.get("/draft/attachments/<name>")
def draft_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    """Serve one of the draft's files."""
    return attachment_response(g.db, project_id, g.draft, name)


@bp.route("/draft/submission", methods=["HEAD"])
def draft_submission_head(project_id: int, xml_form_id: str) -> Response:
    """Answer Collect's pre-flight."""
    return openrosa_headers(Response(status=204))


@bp.post("/draft/submission")
def draft_submission_post(project_id: int, xml_form_id: str) -> Response:
    """Store a test submission of the draft durably, then answer 201."""
    manifest, parts = upload_parts()
    draft = g.draft
    receipt = intake.receive(
        g.db,
        project_id=project_id,
        user=None,
        manifest=manifest,
        parts=parts,
        device_id=context.device_id(),
        user_agent=request.headers.get("User-Agent"),
        max_part_bytes=instance().settings.max_request_bytes,
        draft=intake.Draft(g.form.id, g.form.xml_form_id, draft.id, draft.version),
    )
    if receipt.complete:
        current_app.extensions["collector.wake"].set()
        return openrosa_message("full submission upload was successful!", status=201)
    return openrosa_message("partial submission upload was successful!", status=201)
