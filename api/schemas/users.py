"""Web users and project memberships."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Timestamp
from collector.models import Role

ROLES = [r.value for r in Role]


class UserSchema(Schema):
    """A web user (never its password hash)."""

    id = fields.Integer(required=True)
    type = fields.Constant("user", required=True)
    email = fields.String(required=True)
    display_name = fields.String(data_key="displayName", allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", allow_none=True)
    disabled_at = Timestamp(data_key="deletedAt", allow_none=True)


class UserCreateSchema(Schema):
    """``POST /v1/users``: without a password the user cannot log in until one is set."""

    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(load_only=True, validate=validate.Length(min=10, max=1024))
    display_name = fields.String(data_key="displayName", validate=validate.Length(max=200))


class MembershipSchema(Schema):
    """A data manager's membership of a project."""

    user_id = fields.Integer(data_key="actorId", required=True)
    project_id = fields.Integer(data_key="projectId", required=True)
    role = fields.String(required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
