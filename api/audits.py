"""The audit log, as Central serves it (admin).

GET /v1/audits   ?action=&start=&end=&limit=&offset=   newest first
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select

from api import context
from api.openapi import operation
from api.schemas.audits import AuditQuerySchema, AuditSchema
from collector.models import AuditEntry
from collector.roles import Action

bp = Blueprint("audits", __name__, url_prefix="/v1")


def audit_row(entry: AuditEntry) -> dict[str, Any]:
    """An entry as ``AuditSchema`` dumps it."""
    return {
        "id": entry.id,
        "actor_id": entry.actor_id,
        "actor_type": entry.actor_type,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "project_id": entry.project_id,
        "subject": entry.subject,
        "details": json.loads(entry.details or "{}"),
        "at": entry.at,
        "hash": entry.hash,
    }


@bp.get("/audits")
@operation(
    "The audit log, newest first",
    "admin",
    response=AuditSchema,
    many=True,
    query=(
        ("action", "string", "only this action"),
        ("start", "string", "from this time (ISO 8601)"),
        ("end", "string", "until this time (ISO 8601)"),
        ("limit", "integer", "at most this many (default 100)"),
        ("offset", "integer", "skip this many"),
    ),
)
def list_audits() -> Response:
    """Return audit entries, filtered by action and time."""
    context.require(Action.AUDIT_READ)
    query = context.load(AuditQuerySchema(), request.args.to_dict())
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if query.get("action"):
        stmt = stmt.where(AuditEntry.action == query["action"])
    if query.get("start"):
        stmt = stmt.where(AuditEntry.at >= query["start"])
    if query.get("end"):
        stmt = stmt.where(AuditEntry.at <= query["end"])
    stmt = stmt.limit(query["limit"]).offset(query["offset"])
    rows = [audit_row(e) for e in context.db().scalars(stmt)]
    return context.answer(AuditSchema(), rows, many=True)
