"""OData for pyodk, Excel and Power BI: a form's pseudonymised tables, as Central serves them.

GET /v1/projects/<p>/forms/<f>.svc                       service document
GET /v1/projects/<p>/forms/<f>.svc/$metadata             CSDL (application/xml)
GET /v1/projects/<p>/forms/<f>.svc/Submissions           $top $skip $count $filter $select
GET /v1/projects/<p>/forms/<f>.svc/Submissions.<repeat>  $expand=* $wkt $skiptoken $orderby
GET /v1/projects/<p>/forms/<f>.svc/Submissions('<id>')[/<repeat>…]
GET /v1/projects/<p>/forms/<f>/draft.svc[/…]             the same, of the draft's tests

Readers are data managers of the project and admins; only admins see sensitive values (each
such read is audited), and nobody gets an identifier's original through OData. Rows are
streamed: without ``$top`` a table comes whole, as Central sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request

from api import context
from api.context import DRAFT, PUBLISHED
from collector import drafts, odata, publishing
from collector.dataset import Viewer
from collector.models import Form, FormVersion, Role
from collector.roles import Action

bp = Blueprint("odata", __name__, url_prefix="/v1/projects/<int:project_id>/forms")

XML_TYPE = "application/xml"


def _form(project_id: int, xml_form_id: str, draft: bool) -> tuple[Form, str, FormVersion | None]:
    """Authorise the reader and return the form, its service URL and (for the draft's feed)
    its draft."""
    context.require(Action.SUBMISSION_READ, project_id)
    form = publishing.get_form(context.db(), project_id, xml_form_id)
    base = f"{context.origin()}/v1/projects/{project_id}/forms/{quote(xml_form_id, safe='')}"
    if draft:
        return form, f"{base}/draft.svc", drafts.get_draft(context.db(), form)
    return form, f"{base}.svc", None


def odata_response(
    body: str | bytes | Iterator[str], content_type: str = odata.JSON_TYPE
) -> Response:
    """An OData answer: its body, its content type and the OData-Version header."""
    response = Response(body, content_type=content_type)
    response.headers["OData-Version"] = "4.0"
    return response


@bp.get("/<xml_form_id>.svc", strict_slashes=False, defaults=PUBLISHED)
@bp.get("/<xml_form_id>/draft.svc", strict_slashes=False, defaults=DRAFT)
def service_document(project_id: int, xml_form_id: str, draft: bool) -> Response:
    """The OData service document: one entity set per table of the form (or of its draft)."""
    form, url, tested = _form(project_id, xml_form_id, draft)
    return odata_response(odata.dumps(odata.service_document(context.db(), form, url, tested)))


@bp.get("/<xml_form_id>.svc/<path:target>", defaults=PUBLISHED)
@bp.get("/<xml_form_id>/draft.svc/<path:target>", defaults=DRAFT)
def resource(project_id: int, xml_form_id: str, target: str, draft: bool) -> Response:
    """``$metadata`` (CSDL) or a page of rows of a table (of the form, or of its draft's test
    submissions)."""
    form, url, tested = _form(project_id, xml_form_id, draft)
    session = context.db()
    if target == "$metadata":
        return odata_response(odata.metadata(session, form, tested), XML_TYPE)
    actor = context.actor()
    admin = actor.role == Role.ADMIN.value
    viewer = Viewer(context.secrets(), sensitive=True) if admin else Viewer()
    body = odata.read(
        session,
        form,
        target,
        request.args.to_dict(flat=True),
        viewer=viewer,
        service_url=url,
        actor=actor,
        page_size=current_app.config.get("ODATA_PAGE_SIZE"),
        draft=tested,
    )
    return odata_response(context.streamed(body, session))
