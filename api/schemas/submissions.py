"""Submissions: metadata only (values are served pseudonymised by OData and exports)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Timestamp
from collector.submissions import REVIEW_STATES


class SubmissionVersionSchema(Schema):
    """The current version of a logical submission."""

    instance_id = fields.String(data_key="instanceId", required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    status = fields.String(required=True)


class SubmissionSchema(Schema):
    """A logical submission, named by its first instanceID.

    ``status`` is this server's processing state (received, processed, failed) and
    ``failureReason`` says why one failed; ``reviewState`` is Central's (null = received).
    """

    instance_id = fields.String(data_key="instanceId", required=True)
    submitter_id = fields.Integer(data_key="submitterId", required=True)
    submitter_type = fields.String(data_key="submitterType", allow_none=True)
    device_id = fields.String(data_key="deviceId", allow_none=True)
    user_agent = fields.String(data_key="userAgent", allow_none=True)
    review_state = fields.String(data_key="reviewState", allow_none=True)
    instance_name = fields.String(data_key="instanceName", allow_none=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", allow_none=True)
    deleted_at = Timestamp(data_key="deletedAt", allow_none=True)
    status = fields.String(required=True)
    failure_reason = fields.String(data_key="failureReason", allow_none=True)
    current_version = fields.Nested(SubmissionVersionSchema, data_key="currentVersion")


class ReviewSchema(Schema):
    """``PATCH …/submissions/{instanceId}``."""

    review_state = fields.String(
        data_key="reviewState", required=True, validate=validate.OneOf(REVIEW_STATES)
    )


class CommentCreateSchema(Schema):
    """``POST …/comments``."""

    body = fields.String(required=True, validate=validate.Length(min=1, max=10_000))


class CommentSchema(Schema):
    """A comment on a submission."""

    body = fields.String(required=True)
    actor_id = fields.Integer(data_key="actorId", required=True)
    created_at = Timestamp(data_key="createdAt", required=True)


class SubmissionAttachmentSchema(Schema):
    """A file a submission expects, and whether it arrived."""

    name = fields.String(required=True)
    exists = fields.Boolean(required=True)
