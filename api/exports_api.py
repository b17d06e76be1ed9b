"""Exports over HTTP: Central's ``submissions.csv.zip`` and ``submissions.csv``, and more.

    GET|POST /v1/projects/<p>/forms/<f>/submissions.csv.zip   root CSV + one per repeat + media/
    GET|POST /v1/projects/<p>/forms/<f>/submissions.csv       the root table only
    GET      /v1/projects/<p>/forms/<f>/submissions.jsonl     one JSON object per submission
    GET      /v1/projects/<p>/forms/<f>/submissions.xlsx      a worksheet per table + summary
    …        /v1/projects/<p>/forms/<f>/draft/submissions.*   the same, of the draft's tests

Values are pseudonymised (identifiers as their pseudonym). Sensitive values are opened for
admins only. ``?profile=reidentified&reason=…`` gives originals to an admin, audited. The file
is written to a temporary file and streamed from it, so memory stays flat for any size; the
reconciliation summary travels in the zip (``summary.json``) and in the
``X-Collector-Summary`` header. The zip carries the decrypted files the reader may have (see
``collector.export``); ``attachments=false`` leaves them out, as on Central.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from flask import Blueprint, Response, request

from api import context
from api.context import DRAFT, PUBLISHED
from api.openapi import operation
from collector import drafts, export, publishing
from collector.dataset import Viewer
from collector.errors import InvalidInput
from collector.models import Role
from collector.roles import Action

bp = Blueprint("exports", __name__, url_prefix="/v1/projects/<int:project_id>/forms")
CHUNK = 256 * 1024
QUERY = (
    ("profile", "string", "pseudonymised (default) or reidentified (admin, with a reason)"),
    ("reason", "string", "why a re-identified export is needed (audited)"),
    (
        "$filter",
        "string",
        "only the submissions it matches: __id and __system/ submissionDate, updatedAt, "
        "submitterId, reviewState, deletedAt compared with values",
    ),
    (
        "deletedFields",
        "boolean",
        "also the fields only earlier published versions of the form have (default false)",
    ),
)
ZIP_QUERY = (
    *QUERY,
    ("attachments", "boolean", "carry the decrypted files under media/ (default true)"),
    ("groupPaths", "boolean", "head columns with their groups' names (default true)"),
    (
        "splitSelectMultiples",
        "boolean",
        "a 1/0 column per value of each select-multiple field without a PII rule",
    ),
)
#: Each export is also served under ``…/forms/<f>/draft/``, of the draft's test submissions in
#: the draft's columns (``context.DRAFT``).
OF_DRAFT = " (under /draft/: the draft's test submissions)"
FALSE = ("false", "0", "no", "off")
TRUE = ("true", "1", "yes", "on")


def _viewer(profile: str) -> Viewer:
    who = context.actor()
    return Viewer(
        context.secrets(),
        sensitive=who.role == Role.ADMIN.value,
        reidentify=profile == "reidentified",
    )


def _values() -> dict[str, Any]:
    body = request.get_json(silent=True) if request.method == "POST" else None
    return {**request.args, **(body if isinstance(body, dict) else {})}


def _params() -> tuple[str, str]:
    values = _values()
    return str(values.get("profile", "pseudonymised")), str(values.get("reason", ""))


def _filter() -> str | None:
    """Central's ``$filter`` on submission metadata (``exportrun.begin`` reads it)."""
    value = _values().get("$filter")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("$filter is an OData expression (text)", code=400.8)
    return value


def _flag(name: str, default: bool) -> bool:
    """One of Central's boolean export options (query or body), as Central reads it: an
    option on by default is off only when it says false, one off by default on only when it
    says true (``attachments``, ``groupPaths``; ``splitSelectMultiples``, ``deletedFields``)."""
    value = _values().get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return text not in FALSE if default else text in TRUE


def _stream(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


def _export(
    project_id: int, xml_form_id: str, kind: str, draft: bool, attachments: bool = False
) -> tuple[IO[bytes], dict[str, Any]]:
    who = context.require(Action.EXPORT, project_id)
    form = publishing.get_form(context.db(), project_id, xml_form_id)
    tested = drafts.get_draft(context.db(), form) if draft else None
    profile, reason = _params()
    handle = tempfile.TemporaryFile()
    write = export.writer_for(
        kind,
        attachments=attachments,
        group_paths=_flag("groupPaths", True),
        split_select_multiples=_flag("splitSelectMultiples", False),
        deleted_fields=_flag("deletedFields", False),
    )
    try:
        summary = write(
            handle,
            context.db(),
            form,
            actor=who,
            viewer=_viewer(profile),
            profile=profile,
            reason=reason,
            odata_filter=_filter(),
            draft=tested,
        )
    except BaseException:
        handle.close()
        raise
    return handle, summary


def _send(handle: IO[bytes], mimetype: str, filename: str, summary: dict[str, Any]) -> Response:
    response = Response(_stream(handle), mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Collector-Summary"] = json.dumps(
        {k: summary[k] for k in ("received", "processed", "exported", "failed")}
    )
    return response


@bp.route("/<xml_form_id>/submissions.csv.zip", methods=["GET", "POST"], defaults=PUBLISHED)
@bp.route("/<xml_form_id>/draft/submissions.csv.zip", methods=["GET", "POST"], defaults=DRAFT)
@operation(
    "Export as CSV zip (root and repeat tables, the files the reader may have, summary)" + OF_DRAFT,
    "project",
    produces="application/zip",
    query=ZIP_QUERY,
)
def csv_zip(project_id: int, xml_form_id: str, draft: bool) -> Response:
    """The CSV zip export, with the decrypted files unless ``attachments=false``."""
    handle, summary = _export(
        project_id, xml_form_id, "csv.zip", draft, attachments=_flag("attachments", True)
    )
    return _send(handle, "application/zip", f"{xml_form_id}.csv.zip", summary)


@bp.route("/<xml_form_id>/submissions.csv", methods=["GET", "POST"], defaults=PUBLISHED)
@bp.route("/<xml_form_id>/draft/submissions.csv", methods=["GET", "POST"], defaults=DRAFT)
@operation("Export the root table as CSV" + OF_DRAFT, "project", produces="text/csv", query=QUERY)
def root_csv(project_id: int, xml_form_id: str, draft: bool) -> Response:
    """The root table alone, as Central's ``submissions.csv``."""
    handle, summary = _export(project_id, xml_form_id, "csv.zip", draft)
    out = tempfile.TemporaryFile()
    with handle, zipfile.ZipFile(handle) as archive, archive.open(f"{xml_form_id}.csv") as raw:
        while chunk := raw.read(CHUNK):
            out.write(chunk)
    return _send(out, "text/csv", f"{xml_form_id}.csv", summary)


@bp.get("/<xml_form_id>/submissions.jsonl", defaults=PUBLISHED)
@bp.get("/<xml_form_id>/draft/submissions.jsonl", defaults=DRAFT)
@operation(
    "Export as JSON Lines" + OF_DRAFT, "project", produces="application/x-ndjson", query=QUERY
)
def jsonl(project_id: int, xml_form_id: str, draft: bool) -> Response:
    """JSON Lines: one submission per line, the summary last."""
    handle, summary = _export(project_id, xml_form_id, "jsonl", draft)
    return _send(handle, "application/x-ndjson", f"{xml_form_id}.jsonl", summary)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/<xml_form_id>/submissions.xlsx", defaults=PUBLISHED)
@bp.get("/<xml_form_id>/draft/submissions.xlsx", defaults=DRAFT)
@operation(
    "Export as an Excel workbook (a sheet per table)" + OF_DRAFT,
    "project",
    produces=XLSX,
    query=QUERY,
)
def xlsx(project_id: int, xml_form_id: str, draft: bool) -> Response:
    """A workbook: the root table, one sheet per repeat, and the summary."""
    handle, summary = _export(project_id, xml_form_id, "xlsx", draft)
    return _send(handle, XLSX, f"{xml_form_id}.xlsx", summary)
