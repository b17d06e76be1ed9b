"""Entity lists (datasets), their properties and entities."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Timestamp

NAME = validate.Length(min=1, max=200)


class PropertySchema(Schema):
    """A property of an entity list; ``forms`` lists xmlFormIds (strings, as pyodk expects)."""

    name = fields.String(required=True)
    odata_name = fields.String(data_key="odataName", required=True)
    published_at = Timestamp(data_key="publishedAt", required=True)
    forms = fields.List(fields.String(), required=True)


class FormRefSchema(Schema):
    """A form tied to an entity list."""

    xml_form_id = fields.String(data_key="xmlFormId", required=True)
    name = fields.String(allow_none=True)


class DatasetSchema(Schema):
    """An entity list, with the forms that fill it (``sourceForms``) and read it
    (``linkedForms``)."""

    name = fields.String(required=True)
    project_id = fields.Integer(data_key="projectId", required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    approval_required = fields.Boolean(data_key="approvalRequired", required=True)
    entities = fields.Integer()
    conflicts = fields.Integer(metadata={"description": "live entities in conflict"})
    properties = fields.List(fields.Nested(PropertySchema))
    source_forms = fields.List(fields.Nested(FormRefSchema), data_key="sourceForms")
    linked_forms = fields.List(fields.Nested(FormRefSchema), data_key="linkedForms")


class DatasetCreateSchema(Schema):
    """``POST /v1/projects/{p}/datasets``."""

    name = fields.String(required=True, validate=NAME)
    approval_required = fields.Boolean(data_key="approvalRequired", load_default=False)


class DatasetUpdateSchema(Schema):
    """``PATCH /v1/projects/{p}/datasets/{name}`` (``?convert=true`` applies what waited)."""

    approval_required = fields.Boolean(data_key="approvalRequired", required=True)


class PropertyCreateSchema(Schema):
    """``POST …/datasets/{name}/properties``."""

    name = fields.String(required=True, validate=NAME)


class EntityCreateSchema(Schema):
    """``POST …/entities`` with one entity."""

    uuid = fields.String(validate=validate.Length(min=1, max=36))
    label = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    data = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), load_default={})


class EntityBulkSchema(Schema):
    """``POST …/entities`` with many (``entities`` and a ``source``)."""

    entities = fields.List(
        fields.Nested(EntityCreateSchema), required=True, validate=validate.Length(min=1)
    )
    source = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))


class EntityUpdateSchema(Schema):
    """``PATCH …/entities/{uuid}`` (``baseVersion`` or ``force`` come in the query)."""

    label = fields.String(validate=validate.Length(min=1, max=10_000))
    data = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))


class EntityVersionSchema(Schema):
    """An entity's current version."""

    label = fields.String(required=True)
    current = fields.Boolean(required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    creator_id = fields.Integer(data_key="creatorId", required=True)
    user_agent = fields.String(data_key="userAgent", required=True)
    version = fields.Integer(required=True)
    base_version = fields.Integer(data_key="baseVersion", allow_none=True)
    data = fields.Dict(keys=fields.String(), values=fields.String())
    conflicting_properties = fields.List(
        fields.String(), data_key="conflictingProperties", allow_none=True
    )


class EntitySourceSchema(Schema):
    """What made an entity version: a submission (its instanceID), or null."""

    submission = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)


class EntityHistorySchema(EntityVersionSchema):
    """One version in an entity's history (``…/entities/{uuid}/versions``)."""

    data_received = fields.Dict(
        keys=fields.String(), values=fields.String(), data_key="dataReceived", required=True
    )
    conflict = fields.String(allow_none=True, metadata={"enum": ["soft", "hard", None]})
    resolved = fields.Boolean(required=True)
    base_diff = fields.List(fields.String(), data_key="baseDiff", required=True)
    server_diff = fields.List(fields.String(), data_key="serverDiff", required=True)
    last_good_version = fields.Boolean(data_key="lastGoodVersion", required=True)
    relevant_to_conflict = fields.Boolean(data_key="relevantToConflict", required=True)
    source = fields.Nested(EntitySourceSchema, required=True)


class EntitySchema(Schema):
    """An entity."""

    uuid = fields.String(required=True)
    creator_id = fields.Integer(data_key="creatorId", required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", allow_none=True)
    deleted_at = Timestamp(data_key="deletedAt", allow_none=True)
    conflict = fields.String(allow_none=True)
    current_version = fields.Nested(EntityVersionSchema, data_key="currentVersion", required=True)


class EntityIdsSchema(Schema):
    """``POST …/entities/bulk-delete`` and ``bulk-restore``: the uuids to change."""

    ids = fields.List(fields.String(validate=validate.Length(max=100)), required=True)


class CountSchema(Schema):
    """How many entities a bulk change changed."""

    count = fields.Integer(required=True)
