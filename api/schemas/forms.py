"""Forms, their versions, drafts and attachments."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from api.schemas.common import Timestamp
from collector.models import FormState


class FormSchema(Schema):
    """A form as pyodk reads it; ``keyId`` is the key generation its definition carries.

    A form that has only a draft shows the draft's version and hash, with ``publishedAt`` null.
    """

    project_id = fields.Integer(data_key="projectId", required=True)
    xml_form_id = fields.String(data_key="xmlFormId", required=True)
    name = fields.String(required=True, allow_none=True)
    version = fields.String(required=True)
    hash = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf([s.value for s in FormState]))
    key_id = fields.Integer(data_key="keyId", required=True, allow_none=True)
    enketo_id = fields.String(data_key="enketoId", required=True, allow_none=True)
    submissions = fields.Integer()
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", required=True, allow_none=True)
    published_at = Timestamp(data_key="publishedAt", required=True, allow_none=True)
    #: A draft's test token: Collect reaches the draft at ``/v1/test/<draftToken>/projects/
    #: <p>/forms/<f>/draft`` (absent for a published version).
    draft_token = fields.String(data_key="draftToken")

    @post_dump
    def _only_for_a_draft(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data.get("draftToken") is None:
            data.pop("draftToken", None)
        return data


class FormUpdateSchema(Schema):
    """``PATCH /v1/projects/{p}/forms/{f}``: open, closing (no new downloads) or closed."""

    state = fields.String(required=True, validate=validate.OneOf([s.value for s in FormState]))


class FormAttachmentSchema(Schema):
    """A file a form definition references."""

    name = fields.String(required=True)
    type = fields.String(required=True)
    hash = fields.String(required=True, allow_none=True)
    exists = fields.Boolean(required=True)
    blob_exists = fields.Boolean(data_key="blobExists", required=True)
    dataset_exists = fields.Boolean(data_key="datasetExists", required=True)
    updated_at = Timestamp(data_key="updatedAt", required=True, allow_none=True)
