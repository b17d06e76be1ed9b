"""Projects and their app users."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Timestamp


class ProjectSchema(Schema):
    """A project, with Central's counts; ``keyId`` is its active key generation."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    archived = fields.Boolean(allow_none=True)
    key_id = fields.Integer(data_key="keyId", allow_none=True)
    app_users = fields.Integer(data_key="appUsers")
    forms = fields.Integer()
    last_submission = Timestamp(data_key="lastSubmission", allow_none=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", allow_none=True)
    deleted_at = Timestamp(data_key="deletedAt", allow_none=True)


class ProjectCreateSchema(Schema):
    """``POST /v1/projects``: a keyring is created with it."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))


class AppUserSchema(Schema):
    """An app user (Central's field key); ``token`` is null once revoked."""

    id = fields.Integer(required=True)
    project_id = fields.Integer(data_key="projectId", required=True)
    display_name = fields.String(data_key="displayName", required=True)
    type = fields.Constant("field_key", required=True)
    token = fields.String(required=True, allow_none=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", required=True, allow_none=True)
    revoked_at = Timestamp(data_key="deletedAt", required=True, allow_none=True)
    expires_at = Timestamp(data_key="expiresAt", allow_none=True)


class AppUserCreateSchema(Schema):
    """``POST /v1/projects/{p}/app-users``."""

    display_name = fields.String(
        data_key="displayName", required=True, validate=validate.Length(min=1, max=200)
    )
    expires_at = fields.AwareDateTime(data_key="expiresAt", allow_none=True)


class AssignmentSchema(Schema):
    """An actor holding a role on a form (app users: role 2, ``app-user``)."""

    actor_id = fields.Integer(data_key="actorId", required=True)
    role_id = fields.Integer(data_key="roleId", required=True)
