"""OpenRosa for ODK Collect and Enketo, with the app-user token in the URL as Central does.

GET  /v1/key/<token>/projects/<p>/formList
GET  /v1/key/<token>/projects/<p>/forms/<xmlFormId>.xml
GET  /v1/key/<token>/projects/<p>/forms/<xmlFormId>/manifest
GET  /v1/key/<token>/projects/<p>/forms/<xmlFormId>/attachments/<name>
HEAD /v1/key/<token>/projects/<p>/submission            -> 204
POST /v1/key/<token>/projects/<p>/submission            -> 201 once durably stored
"""

from __future__ import annotations

import re
from email.utils import formatdate
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import ClientDisconnected, HTTPException

from api import context
from api.config import Instance
from collector import appusers, intake, publishing, vault
from collector.errors import InvalidInput, NotFound
from collector.models import (
    Form,
    FormAttachment,
    FormDownload,
    FormState,
    FormVersion,
    utcnow,
)

bp = Blueprint("openrosa", __name__, url_prefix="/v1/key/<token>/projects/<int:project_id>")

XML_TYPE = "text/xml; charset=utf-8"
FORMLIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NS = "http://openrosa.org/http/response"
# App-user tokens (OpenRosa), draft test tokens (/v1/test/<token>) and session tokens
# (DELETE /v1/sessions/<token>) sit in URLs.
# Every segment after a ``key`` or ``sessions`` one (or a ``test`` one right after ``v1``) is
# blanked, up to a ``projects`` segment,
# in the path as the server reads it: percent-decoded, in any case, empty segments and all
# (``/v1/k%65y/<token>`` is served, ``/v1/key//<token>`` redirected, and both are logged).
SECRET_AFTER = frozenset({"key", "sessions"})
_PATH_IN_TEXT = re.compile(r"/[^\s?#\"']*")
_PCHAR = "/!$&'()*+,;=:@-._~"


def redact(text: str) -> str:
    """Return a path (or any log text) with every app-user or session token in a URL blanked."""
    lowered = text.lower()
    if "%" in text or any(word in lowered for word in (*SECRET_AFTER, "test")):
        return _PATH_IN_TEXT.sub(lambda found: redact_path(found.group()), text)
    return text


def redact_path(path: str) -> str:
    """Return one URL path with the token segments blanked (re-encoded if it was encoded)."""
    decoded = _decoded(path)
    segments = decoded.split("/")
    kept: list[str] = []
    hiding = False
    for segment in segments:
        name = segment.lower()
        if hiding and name != "projects":
            if kept[-1] != "***":
                kept.append("***")
            continue
        hiding = name in SECRET_AFTER or (
            name == "test" and [k.lower() for k in kept[-1:]] == ["v1"]
        )
        kept.append(segment)
    if kept == segments:
        return path
    clean = "/".join(kept)
    return clean if decoded == path else quote(clean, safe=_PCHAR)


def _decoded(path: str) -> str:
    """Percent-decode until nothing changes (a double encoding hides no segment either)."""
    while "%" in path:
        once = unquote(path, errors="replace")
        if once == path:
            break
        path = once
    return path


def instance() -> Instance:
    """Return the app's opened instance."""
    found: Instance = current_app.extensions["collector"]
    return found


def openrosa_headers(response: Response) -> Response:
    """Add the headers every OpenRosa response carries."""
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(
        instance().settings.max_request_bytes
    )
    response.headers["Date"] = formatdate(usegmt=True)
    return response


def openrosa_message(message: str, *, status: int, nature: str = "") -> Response:
    """Return an OpenRosaResponse document (what Collect shows the user)."""
    body = (
        f'<OpenRosaResponse xmlns="{RESPONSE_NS}" items="0">'
        f'<message nature="{escape(nature)}">{escape(message)}</message></OpenRosaResponse>'
    )
    return openrosa_headers(Response(body, status=status, content_type=XML_TYPE))


def xml_response(body: bytes | str, status: int = 200) -> Response:
    """Return an XML document with OpenRosa headers."""
    return openrosa_headers(Response(body, status=status, content_type=XML_TYPE))


@bp.url_value_preprocessor
def authenticate(_endpoint: str | None, values: dict[str, object] | None) -> None:
    assert values is not None
    token = str(values.pop("token"))
    project_id = int(str(values["project_id"]))
    session: Session = instance().sessions()
    g.db = session
    g.app_user = appusers.authenticate(session, token, project_id)
    g.token = token


def base_url() -> str:
    """The app user's server URL for this request's project (only lists and manifests need it)."""
    return f"{context.origin()}/v1/key/{g.token}/projects/{g.app_user.project_id}"


@bp.teardown_request
def close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _listed_forms(session: Session, user: appusers.Caller) -> list[tuple[Form, FormVersion]]:
    allowed = appusers.assigned_form_ids(session, user)
    stmt = (
        select(Form)
        .where(Form.project_id == user.project_id, Form.state == FormState.OPEN.value)
        .order_by(Form.xml_form_id)
    )
    listed = []
    for form in session.scalars(stmt):
        version = publishing.current_version(session, form.id)
        if form.id in allowed and version is not None:
            listed.append((form, version))
    return listed


@bp.get("/formList")
def form_list(project_id: int) -> Response:
    """List the published, open forms this app user may fill."""
    items = []
    listed = _listed_forms(g.db, g.app_user)
    base = base_url()
    with_media = _with_attachments(g.db, [version.id for _form, version in listed])
    for form, version in listed:
        url = f"{base}/forms/{quote(form.xml_form_id, safe='')}"
        manifest = f"{url}/manifest" if version.id in with_media else None
        items.append(xform_item(form, version, f"{url}.xml", manifest))
    return form_list_response(items)


def xform_item(form: Form, version: FormVersion, download: str, manifest: str | None) -> str:
    """One ``<xform>`` of a formList: id, name, version, the md5 of the bytes served, URLs."""
    listed_manifest = f"<manifestUrl>{escape(manifest)}</manifestUrl>" if manifest else ""
    return (
        "<xform>"
        f"<formID>{escape(form.xml_form_id)}</formID>"
        f"<name>{escape(form.name or form.xml_form_id)}</name>"
        f"<version>{escape(version.version)}</version>"
        f"<hash>md5:{version.md5}</hash>"
        f"<downloadUrl>{escape(download)}</downloadUrl>"
        f"{listed_manifest}"
        "</xform>"
    )


def form_list_response(items: list[str]) -> Response:
    """The formList document of these ``<xform>`` items."""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<xforms xmlns="{FORMLIST_NS}">{"".join(items)}</xforms>'
    )
    return xml_response(body)


def _form_for_download(project_id: int, xml_form_id: str) -> tuple[Form, FormVersion]:
    for form, version in _listed_forms(g.db, g.app_user):
        if form.xml_form_id == xml_form_id:
            return form, version
    raise NotFound(f"form {xml_form_id!r} is not available to this app user")


@bp.get("/forms/<xml_form_id>.xml")
def form_xml(project_id: int, xml_form_id: str) -> Response:
    """Serve the exact XForm bytes whose md5 formList announced, and note the download."""
    _form, version = _form_for_download(project_id, xml_form_id)
    _record_download(g.db, g.app_user, version, context.device_id())
    return xml_response(version.xml)


def _record_download(
    session: Session, user: appusers.Caller, version: FormVersion, device_id: str | None
) -> None:
    row = session.get(FormDownload, (user.id, version.id))
    if row is None:
        session.add(
            FormDownload(
                app_user_id=user.id,
                form_version_id=version.id,
                device_id=device_id,
            )
        )
    else:
        row.last_at = utcnow()
    session.commit()


@bp.get("/forms/<xml_form_id>/manifest")
def form_manifest(project_id: int, xml_form_id: str) -> Response:
    """List the files of the version served (those uploaded, and entity lists), with md5s."""
    _form, version = _form_for_download(project_id, xml_form_id)
    url = f"{base_url()}/forms/{quote(xml_form_id, safe='')}/attachments"
    return manifest_response(g.db, project_id, version, url)


def manifest_response(
    session: Session, project_id: int, version: FormVersion, url: str
) -> Response:
    """The manifest of a version's files (uploaded ones, and entity lists), downloaded from
    ``<url>/<name>``."""
    secrets = vault.Secrets(instance().kek)
    files = "".join(
        "<mediaFile>"
        f"<filename>{escape(f.name)}</filename>"
        f"<hash>md5:{f.md5}</hash>"
        f"<downloadUrl>{escape(url)}/{escape(quote(f.name, safe=''))}</downloadUrl>"
        "</mediaFile>"
        for f in publishing.served_files(secrets, session, project_id, version)
    )
    body = f'<manifest xmlns="{MANIFEST_NS}">{files}</manifest>'
    return xml_response(f'<?xml version="1.0" encoding="UTF-8"?>\n{body}')


@bp.get("/forms/<xml_form_id>/attachments/<name>")
def form_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    """Serve one file of the version served, byte for byte as the manifest hashed it."""
    _form, version = _form_for_download(project_id, xml_form_id)
    return attachment_response(g.db, project_id, version, name)


def attachment_response(
    session: Session, project_id: int, version: FormVersion, name: str
) -> Response:
    """Serve one file of a version, byte for byte as its manifest hashed it."""
    secrets = vault.Secrets(instance().kek)
    for served in publishing.served_files(secrets, session, project_id, version, only=name):
        return openrosa_headers(Response(served.read(), content_type=served.content_type))
    raise NotFound(f"this form version has no attachment {name!r}")


def _with_attachments(session: Session, version_ids: list[int]) -> set[int]:
    """The versions among these that reference files (Collect then fetches the manifest)."""
    if not version_ids:
        return set()
    stmt = select(FormAttachment.form_version_id).where(
        FormAttachment.form_version_id.in_(version_ids)
    )
    return set(session.scalars(stmt))


@bp.route("/submission", methods=["HEAD"])
def submission_head(project_id: int) -> Response:
    """Answer Collect's pre-flight: 204 (200 would look like a captive portal)."""
    return openrosa_headers(Response(status=204))


def upload_parts() -> tuple[bytes, list[intake.Part]]:
    """Return the manifest and the file parts of a multipart upload, or refuse it."""
    if request.mimetype != "multipart/form-data":
        raise InvalidInput("a submission must be multipart/form-data", code=400.1)
    try:
        files = request.files
    except ClientDisconnected:  # Also a client silent past the idle timeout.
        raise InvalidInput(
            "the request body ended early: the client disconnected or stopped sending",
            code=400.1,
        ) from None
    except HTTPException:
        raise
    except Exception:  # The WSGI server's body reader: a malformed chunked encoding, say.
        raise InvalidInput("the request body could not be read", code=400.1) from None
    manifests = files.getlist("xml_submission_file")
    if not manifests:
        if not files and not request.form:
            raise InvalidInput("the multipart body is empty or malformed", code=400.1)
        raise InvalidInput("the upload has no xml_submission_file part", code=400.1)
    if len(manifests) > 1:
        raise InvalidInput("the upload has more than one xml_submission_file part", code=400.1)
    manifest_file = manifests[0]
    stray = [name for name in request.form if name.endswith(".enc")]
    if stray:
        # A file sent as a plain field would arrive as text, not bytes: refuse, never mangle.
        raise InvalidInput(f"part {stray[0]!r} must be sent as a file", code=400.3)
    manifest = manifest_file.stream.read(intake.MAX_MANIFEST_BYTES + 1)
    parts = [
        intake.Part(name, storage.stream)
        for name, storage in files.items(multi=True)
        if name != "xml_submission_file"
    ]
    return manifest, parts


@bp.post("/submission")
def submission_post(project_id: int) -> Response:
    """Store an encrypted submission durably, then answer 201."""
    manifest, parts = upload_parts()
    receipt = intake.receive(
        g.db,
        project_id=project_id,
        user=g.app_user,
        manifest=manifest,
        parts=parts,
        device_id=context.device_id(),
        user_agent=request.headers.get("User-Agent"),
        max_part_bytes=instance().settings.max_request_bytes,
        committer=current_app.extensions.get("collector.committer"),
    )
    if receipt.complete:
        current_app.extensions["collector.wake"].set()
        return openrosa_message("full submission upload was successful!", status=201)
    return openrosa_message("partial submission upload was successful!", status=201)
