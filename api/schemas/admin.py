"""Bodies and answers of the admin endpoints: key rotation and the identity vault."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class RotateBody(Schema):
    bits = fields.Integer(
        load_default=None, validate=validate.OneOf([2048, 3072, 4096]), allow_none=True
    )


class DestroyBody(Schema):
    force = fields.Boolean(load_default=False)
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class VaultBody(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(required=True, validate=validate.Length(min=5, max=2000))


class RepublishedSchema(Schema):
    xmlFormId = fields.String(attribute="xml_form_id")  # noqa: N815 - Central's casing.
    oldVersion = fields.String(attribute="old_version")  # noqa: N815
    newVersion = fields.String(attribute="new_version")  # noqa: N815


class StragglerSchema(Schema):
    appUserId = fields.Integer(attribute="app_user_id")  # noqa: N815
    displayName = fields.String(attribute="display_name")  # noqa: N815
    xmlFormId = fields.String(attribute="xml_form_id")  # noqa: N815
    version = fields.String()
    lastDownload = fields.DateTime(attribute="last_download")  # noqa: N815


class GenerationStatusSchema(Schema):
    generation = fields.Integer()
    state = fields.String()
    fingerprint = fields.String()
    createdAt = fields.DateTime(attribute="created_at")  # noqa: N815
    pending = fields.Integer()
    processed = fields.Integer()
    lastSubmission = fields.DateTime(attribute="last_submission", allow_none=True)  # noqa: N815
    stragglers = fields.List(fields.Nested(StragglerSchema))


class RevealedSchema(Schema):
    subject = fields.Integer(attribute="subject_id")
    pseudonym = fields.String()
    kind = fields.String()
    original = fields.String()


class RotatedSchema(Schema):
    generation = fields.Integer(required=True)
    republished = fields.List(fields.Nested(RepublishedSchema), required=True)


class ErasedSchema(Schema):
    success = fields.Boolean(required=True)
    pseudonym = fields.String(required=True)
