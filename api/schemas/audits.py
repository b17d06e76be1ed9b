"""The audit log as ``GET /v1/audits`` answers it."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Timestamp


class AuditSchema(Schema):
    """One audit entry (Central's shape plus this server's chain hash)."""

    id = fields.Integer(required=True)
    actor_id = fields.Integer(data_key="actorId", allow_none=True)
    actor_type = fields.String(data_key="actorType", required=True)
    actor_name = fields.String(data_key="actorName", allow_none=True)
    action = fields.String(required=True)
    project_id = fields.Integer(data_key="projectId", allow_none=True)
    subject = fields.String(data_key="acteeId", allow_none=True)
    details = fields.Dict(required=True)
    at = Timestamp(data_key="loggedAt", required=True)
    hash = fields.String(required=True)


class AuditQuerySchema(Schema):
    """Query of ``GET /v1/audits``."""

    action = fields.String(validate=validate.Length(max=64))
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
