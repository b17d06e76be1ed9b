"""Entity lists (datasets) and entities, as far as pyodk's calls need them.

GET   /v1/projects/<p>/datasets                         POST {name, approvalRequired}
GET   /v1/projects/<p>/datasets/<name>                  with its properties and forms
PATCH /v1/projects/<p>/datasets/<name>                  {approvalRequired} (?convert)
POST  /v1/projects/<p>/datasets/<name>/properties       {name}
GET   /v1/projects/<p>/datasets/<name>/entities         POST one {uuid?, label, data} or many
      (?deleted=true: the deleted ones)
POST  /v1/projects/<p>/datasets/<name>/entities/<uuid>/restore
POST  /v1/projects/<p>/datasets/<name>/entities/bulk-delete  {ids}  (and bulk-restore)
GET   /v1/projects/<p>/datasets/<name>/entities/<uuid>  PATCH (?baseVersion | ?force, ?resolve),
      DELETE
GET   /v1/projects/<p>/datasets/<name>/entities/<uuid>/versions  (?relevantToConflict)
GET   /v1/projects/<p>/datasets/<name>/entities.csv     every live entity, newest first ($filter)
GET   /v1/projects/<p>/datasets/<name>.svc              OData service document
GET   /v1/projects/<p>/datasets/<name>.svc/$metadata    CSDL (application/xml)
GET   /v1/projects/<p>/datasets/<name>.svc/Entities     OData rows, newest first ($top $skip
      $skiptoken $count $filter $orderby $select; @odata.nextLink with $top when more follow)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import context
from api.odata import odata_response
from api.openapi import operation
from api.schemas.common import SuccessSchema, iso
from api.schemas.entities import (
    CountSchema,
    DatasetCreateSchema,
    DatasetSchema,
    DatasetUpdateSchema,
    EntityBulkSchema,
    EntityCreateSchema,
    EntityHistorySchema,
    EntityIdsSchema,
    EntitySchema,
    EntityUpdateSchema,
    PropertyCreateSchema,
)
from collector import audit, entities, odata, publishing, submissions
from collector.errors import CollectorError, InvalidInput
from collector.models import Dataset, Entity, EntityVersion
from collector.odata.edm import (
    ENTITY_SYSTEM_PROPERTIES,
    entity_metadata_xml,
    entity_service_document,
)
from collector.odata.errors import BadOption, PropertyNotFound
from collector.odata.query import Token
from collector.odata.service import next_link
from collector.roles import Action
from collector.vault import Secrets

bp = Blueprint("entities", __name__, url_prefix="/v1/projects/<int:project_id>/datasets")


class ODataNotImplemented(CollectorError):
    code = 501.1
    default_message = "this OData option is not implemented for entities"


def _dataset_view(dataset: Dataset) -> dict[str, Any]:
    session = context.db()
    count, conflicts = session.execute(
        select(func.count(), func.count(Entity.conflict)).where(
            Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None)
        )
    ).one()
    links = publishing.list_forms(session, dataset.project_id, dataset)
    props = [
        {
            "name": p.name,
            "odata_name": p.name,
            "published_at": p.created_at,
            "forms": links.property_forms.get(p.name, []),
        }
        for p in entities.properties(session, dataset)
    ]
    return {
        "source_forms": [{"xml_form_id": f.xml_form_id, "name": f.name} for f in links.source],
        "linked_forms": [{"xml_form_id": f.xml_form_id, "name": f.name} for f in links.linked],
        "name": dataset.name,
        "project_id": dataset.project_id,
        "created_at": dataset.created_at,
        "approval_required": dataset.approval_required,
        "entities": int(count or 0),
        "conflicts": int(conflicts or 0),
        "properties": props,
    }


def _version_view(row: EntityVersion, opened: entities.Contents, current: bool) -> dict[str, Any]:
    """One version of an entity as Central shows it (its current one, or one in its history)."""
    return {
        "label": opened.label,
        "current": current,
        "created_at": row.created_at,
        "creator_id": row.creator_id or 0,
        "user_agent": row.user_agent or "",
        "version": row.version,
        "base_version": row.base_version,
        "data": opened.data,
        "conflicting_properties": _names(row.conflicting_properties),
    }


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [str(name) for name in json.loads(text)]


def _entity_view(
    dataset: Dataset, entity: Entity, current: EntityVersion | None = None
) -> dict[str, Any]:
    """An entity as Central shows it; ``current`` is its current version's history row (looked
    up here when not given)."""
    session = context.db()
    opened = entities.contents(session, context.secrets(), dataset, entity)
    if current is None:
        current = entities.current_versions(session, dataset, entity)[entity.id]
    return {
        "uuid": entity.uuid,
        "creator_id": entity.creator_id or 0,
        "created_at": entity.created_at,
        "updated_at": entity.updated_at,
        "deleted_at": entity.deleted_at,
        "conflict": entity.conflict,
        "current_version": _version_view(current, opened, True),
    }


def _dataset(project_id: int, name: str, action: Action) -> tuple[Dataset, Any]:
    actor = context.require(action, project_id)
    return entities.get_dataset(context.db(), project_id, name), actor


@bp.get("")
@operation("List entity lists", "project", response=DatasetSchema, many=True)
def list_datasets(project_id: int) -> Response:
    """List a project's entity lists."""
    context.require(Action.ENTITY_READ, project_id)
    rows = [_dataset_view(d) for d in entities.list_datasets(context.db(), project_id)]
    return context.answer(DatasetSchema(), rows, many=True)


@bp.post("")
@operation(
    "Create an entity list",
    "project",
    body=DatasetCreateSchema,
    response=DatasetSchema,
    errors=(409,),
)
def create_dataset(project_id: int) -> Response:
    """Create an entity list."""
    actor = context.require(Action.ENTITY_WRITE, project_id)
    body = context.load(DatasetCreateSchema(), context.json_body())
    dataset = entities.create_dataset(
        context.db(), project_id, body["name"], body["approval_required"], actor=actor
    )
    result = _dataset_view(dataset)
    context.commit()
    return context.answer(DatasetSchema(), result)


@bp.get("/<name>")
@operation("One entity list, with its properties", "project", response=DatasetSchema)
def get_dataset(project_id: int, name: str) -> Response:
    """Return an entity list."""
    dataset, _ = _dataset(project_id, name, Action.ENTITY_READ)
    return context.answer(DatasetSchema(), _dataset_view(dataset))


@bp.patch("/<name>")
@operation(
    "Require approval before submissions create entities, or stop requiring it",
    "project",
    body=DatasetUpdateSchema,
    response=DatasetSchema,
    query=(
        (
            "convert",
            "boolean",
            "when approval stops being required, apply the changes of processed submissions "
            "that were waiting for it (not rejected ones)",
        ),
    ),
)
def update_dataset(project_id: int, name: str) -> Response:
    """Change whether an entity list requires approval."""
    dataset, actor = _dataset(project_id, name, Action.ENTITY_WRITE)
    body = context.load(DatasetUpdateSchema(), context.json_body())
    session = context.db()
    was = dataset.approval_required
    entities.set_approval(session, dataset, body["approval_required"], actor=actor)
    if was and not dataset.approval_required and context.flag("convert", False):
        submissions.apply_waiting_entities(session, context.secrets(), dataset)
    result = _dataset_view(dataset)
    context.commit()
    return context.answer(DatasetSchema(), result)


@bp.post("/<name>/properties")
@operation(
    "Add a property", "project", body=PropertyCreateSchema, response=SuccessSchema, errors=(409,)
)
def add_property(project_id: int, name: str) -> Response:
    """Add a property to an entity list."""
    dataset, actor = _dataset(project_id, name, Action.ENTITY_WRITE)
    body = context.load(PropertyCreateSchema(), context.json_body())
    entities.add_property(context.db(), dataset, body["name"], actor=actor)
    context.commit()
    return context.success()


@bp.get("/<name>/entities")
@operation(
    "List entities",
    "project",
    response=EntitySchema,
    many=True,
    query=(("deleted", "boolean", "the deleted entities instead (they can be restored)"),),
)
def list_entities(project_id: int, name: str) -> Response:
    """List an entity list's live entities, or its deleted ones."""
    dataset, _ = _dataset(project_id, name, Action.ENTITY_READ)
    session = context.db()
    deleted = context.flag("deleted", False)
    current = entities.current_versions(session, dataset, deleted=deleted)
    found = entities.list_entities(session, dataset, deleted=deleted)
    rows = [_entity_view(dataset, e, current[e.id]) for e in found]
    return context.answer(EntitySchema(), rows, many=True)


@bp.post("/<name>/entities/<entity_uuid>/restore")
@operation("Restore a deleted entity", "project", response=SuccessSchema)
def restore_entity(project_id: int, name: str, entity_uuid: str) -> Response:
    """Bring a deleted entity back at the version it had (404 unless it is deleted)."""
    dataset, actor = _dataset(project_id, name, Action.ENTITY_WRITE)
    session = context.db()
    entity = entities.find_deleted(session, dataset, entity_uuid)
    entities.restore_entity(session, dataset, entity, actor=actor)
    context.commit()
    return context.success()


def _bulk(project_id: int, name: str, deleted: bool) -> Response:
    dataset, actor = _dataset(project_id, name, Action.ENTITY_WRITE)
    body = context.load(EntityIdsSchema(), context.json_body())
    changed = entities.set_deleted(context.db(), dataset, body["ids"], deleted, actor=actor)
    context.commit()
    return context.answer(CountSchema(), {"count": len(changed)})


@bp.post("/<name>/entities/bulk-delete")
@operation(
    "Delete many entities ({ids}: those live among them; answers the count)",
    "project",
    body=EntityIdsSchema,
    response=CountSchema,
)
def bulk_delete(project_id: int, name: str) -> Response:
    """Soft-delete the named entities that are live."""
    return _bulk(project_id, name, True)


@bp.post("/<name>/entities/bulk-restore")
@operation(
    "Restore many entities ({ids}: those deleted among them; answers the count)",
    "project",
    body=EntityIdsSchema,
    response=CountSchema,
)
def bulk_restore(project_id: int, name: str) -> Response:
    """Restore the named entities that are deleted."""
    return _bulk(project_id, name, False)


def _new(item: dict[str, Any]) -> entities.NewEntity:
    return entities.NewEntity(item["label"], item.get("data") or {}, item.get("uuid"))


@bp.post("/<name>/entities")
@operation(
    "Create one entity (EntityCreate), or many ({entities, source}: answers success)",
    "project",
    body=EntityCreateSchema,
    response=EntitySchema,
    errors=(409,),
)
def create_entities(project_id: int, name: str) -> Response:
    """Create one entity, or many at once (all or none)."""
    dataset, actor = _dataset(project_id, name, Action.ENTITY_WRITE)
    data = context.json_body()
    bulk = isinstance(data, dict) and "entities" in data
    schema = EntityBulkSchema() if bulk else EntityCreateSchema()
    body = context.load(schema, data)
    items = [_new(i) for i in body["entities"]] if bulk else [_new(body)]
    agent = request.headers.get("User-Agent")
    created = entities.create_entities(
        context.db(), context.secrets(), dataset, items, actor=actor, user_agent=agent
    )
    result = None if bulk else _entity_view(dataset, created[0])
    context.commit()
    return context.success() if result is None else context.answer(EntitySchema(), result)


@bp.get("/<name>/entities/<entity_uuid>")
@operation("One entity", "project", response=EntitySchema)
def get_entity(project_id: int, name: str, entity_uuid: str) -> Response:
    """Return an entity."""
    dataset, _ = _dataset(project_id, name, Action.ENTITY_READ)
    entity = entities.get_entity(context.db(), dataset, entity_uuid)
    return context.answer(EntitySchema(), _entity_view(dataset, entity))


@bp.get("/<name>/entities/<entity_uuid>/versions")
@operation(
    "Every version of an entity, oldest first, with how each stands in its conflicts",
    "project",
    response=EntityHistorySchema,
    many=True,
    query=(
        (
            "relevantToConflict",
            "boolean",
            "only the versions that matter to its unresolved conflict (none when it has none)",
        ),
    ),
)
def entity_versions(project_id: int, name: str, entity_uuid: str) -> Response:
    """Return an entity's versions: label, data, what each was given, who made each and from
    which submission, and for a version applied on an older base its conflict."""
    dataset, _ = _dataset(project_id, name, Action.ENTITY_READ)
    session = context.db()
    entity = entities.get_entity(session, dataset, entity_uuid)
    history = entities.versions(session, context.secrets(), dataset, entity)
    views = entities.conflict_views(entity, history)
    relevant_only = context.flag("relevantToConflict", False)
    rows = [
        _version_view(v.row, v.contents, v.current)
        | {
            "data_received": entities.received(v),
            "conflict": view.conflict,
            "resolved": view.resolved,
            "base_diff": view.base_diff,
            "server_diff": view.server_diff,
            "last_good_version": view.last_good_version,
            "relevant_to_conflict": view.relevant_to_conflict,
            "source": {
                "submission": {"instanceId": v.row.source_instance_id}
                if v.row.source_instance_id
                else None
            },
        }
        for v, view in zip(history, views, strict=True)
        if view.relevant_to_conflict or not relevant_only
    ]
    return context.answer(EntityHistorySchema(), rows, many=True)


def _base_version() -> int | None:
    value = request.args.get("baseVersion")
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise InvalidInput("baseVersion is a whole number", code=400.11, baseVersion=value)
    return int(value)


@bp.patch("/<name>/entities/<entity_uuid>")
@operation(
    "Update an entity (?baseVersion=n, or ?force=true), and/or resolve its conflict "
    "(?resolve=true: with an empty body, only that)",
    "project",
    body=EntityUpdateSchema,
    response=EntitySchema,
    errors=(409,),
    query=(
        ("baseVersion", "integer", "the version this update is based on"),
        ("force", "boolean", "apply whatever the current version"),
        ("resolve", "boolean", "mark the entity's conflict resolved (400.32 if it has none)"),
    ),
)
def update_entity(project_id: int, name: str, entity_uuid: str) -> Response:
    """Update an entity's label and/or data as a new version; resolve its conflict."""
    dataset, actor = _dataset(project_id, name, Action.ENTITY_WRITE)
    session = context.db()
    entity = entities.get_entity(session, dataset, entity_uuid)
    resolve = context.flag("resolve", False)
    if resolve and entity.conflict is None:
        raise InvalidInput(f"entity {entity.uuid} has no conflict", code=400.32)
    base, force = _base_version(), context.flag("force", False)
    if base != entity.version and not force and (resolve or base is not None):
        raise entities.stale_version(entity, base)
    # Resolving alone sends no body (or an empty object).
    raw = context.json_body() if request.get_data() or not resolve else {}
    if raw != {} or not resolve:
        body = context.load(EntityUpdateSchema(), raw)
        change = entities.Update(body.get("label"), body.get("data"), base, force)
        agent = request.headers.get("User-Agent")
        entities.update_entity(
            session, context.secrets(), dataset, entity, change, actor=actor, user_agent=agent
        )
    if resolve:
        entities.resolve_conflict(session, dataset, entity, actor=actor)
    result = _entity_view(dataset, entity)
    context.commit()
    return context.answer(EntitySchema(), result)


@bp.delete("/<name>/entities/<entity_uuid>")
@operation("Delete an entity", "project", response=SuccessSchema)
def delete_entity(project_id: int, name: str, entity_uuid: str) -> Response:
    """Soft-delete an entity."""
    dataset, actor = _dataset(project_id, name, Action.ENTITY_WRITE)
    session = context.db()
    entity = entities.get_entity(session, dataset, entity_uuid)
    entities.delete_entity(session, dataset, entity, actor=actor)
    context.commit()
    return context.success()


_SYSTEM = tuple(name for name, _kind in ENTITY_SYSTEM_PROPERTIES)
_OPTIONS = frozenset({"$top", "$skip", "$count", "$filter", "$select", "$skiptoken", "$orderby"})


def _odata_row(
    dataset: Dataset, entity: Entity, props: list[str], names: dict[int, str | None]
) -> dict[str, Any]:
    """One entity as Central shapes it: a property without a value is '' (not null)."""
    opened = entities.contents(context.db(), context.secrets(), dataset, entity)
    creator = entity.creator_id
    system = {
        "createdAt": iso(entity.created_at),
        "creatorId": "" if creator is None else str(creator),
        "creatorName": None if creator is None else names.get(creator),
        "updates": entity.version - 1,
        "updatedAt": iso(entity.updated_at),
        "deletedAt": iso(entity.deleted_at),
        "version": entity.version,
        "conflict": entity.conflict,
    }
    return {
        "__id": entity.uuid,
        "label": opened.label,
        "__system": system,
        **{p: opened.data.get(p, "") for p in props},
    }


def _int_option(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.strip().isdigit() or len(value.strip()) > 12:
        raise InvalidInput(f"{name} is a whole number", code=400.11)
    return int(value)


def _selection(props: list[str]) -> set[str] | None:
    """Read ``$select`` (None: everything); an unknown name is Central's 400.23."""
    text = request.args.get("$select")
    if text is None or text.strip() in ("", "*"):
        return None
    known = {"__id", "label", "__system", *(f"__system/{k}" for k in _SYSTEM), *props}
    selected = {s.strip() for s in text.split(",")}
    for name in sorted(selected):
        if name not in known:
            raise PropertyNotFound(name)
    return selected


def _select(row: dict[str, Any], selected: set[str] | None) -> dict[str, Any]:
    """Keep the selected fields; ``__system/x`` nests ``x`` under ``__system``."""
    if selected is None:
        return row
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key != "__system" and key in selected:
            out[key] = value
        elif key == "__system":
            wanted = {
                k: v
                for k, v in value.items()
                if "__system" in selected or (f"__system/{k}" in selected)
            }
            if wanted:
                out[key] = wanted
    return out


def _feed_query() -> entities.FeedQuery:
    unknown = sorted(k for k in request.args if k.startswith("$") and k not in _OPTIONS)
    if unknown:
        raise ODataNotImplemented(f"OData options {', '.join(unknown)} are not implemented")
    orderby = request.args.get("$orderby", "").strip()
    token = request.args.get("$skiptoken")
    try:
        after = Token.decode(token) if token else None
    except BadOption:
        raise BadOption("Invalid $skiptoken", code=400.35, option="$skiptoken") from None
    return entities.FeedQuery(
        filter=request.args.get("$filter") or None,
        orderby=entities.parse_feed_order(orderby) if orderby else (),
        after=after,
        skip=_int_option("$skip") or 0,
        top=_int_option("$top"),
        count=context.flag("$count", False),
    )


@bp.get("/<name>.svc/Entities")
@operation(
    "Entities as OData rows, newest first",
    "project",
    query=(
        ("$top", "integer", "at most this many (with @odata.nextLink when more follow)"),
        ("$skip", "integer", "skip this many"),
        ("$skiptoken", "string", "resume where the previous page stopped (from nextLink)"),
        ("$count", "boolean", "add @odata.count"),
        ("$filter", "string", f"on {', '.join(entities.FEED_FIELDS)}"),
        ("$orderby", "string", "the same fields, each asc or desc"),
        ("$select", "string", "comma-separated properties, __id, label, __system[/x]"),
    ),
)
def odata_entities(project_id: int, name: str) -> Response:
    """Return a page of an entity list's entities as OData JSON."""
    dataset, _ = _dataset(project_id, name, Action.ENTITY_READ)
    session = context.db()
    props = [p.name for p in entities.properties(session, dataset)]
    selected = _selection(props)
    page = entities.feed(session, dataset, _feed_query())
    names = entities.creator_names(session, page.entities)
    rows = [_select(_odata_row(dataset, e, props, names), selected) for e in page.entities]
    base = _service_url(project_id, name)
    doc: dict[str, Any] = {"@odata.context": f"{base}/$metadata#Entities", "value": rows}
    if page.count is not None:
        doc["@odata.count"] = page.count
    if page.resume is not None:
        doc["@odata.nextLink"] = next_link(base, "Entities", request.args, page.resume)
    return jsonify(doc)


def _service_url(project_id: int, name: str) -> str:
    return f"{context.origin()}/v1/projects/{project_id}/datasets/{quote(name, safe='')}.svc"


@bp.get("/<name>.svc", strict_slashes=False)
@operation("The OData service document of an entity list", "project")
def odata_service(project_id: int, name: str) -> Response:
    """The entity list's one entity set, ``Entities``."""
    _dataset(project_id, name, Action.ENTITY_READ)
    return odata_response(odata.dumps(entity_service_document(_service_url(project_id, name))))


@bp.get("/<name>.svc/$metadata")
@operation("The CSDL metadata of an entity list", "project", produces="application/xml")
def odata_metadata(project_id: int, name: str) -> Response:
    """``Entities`` with ``__id``, ``__system``, ``label`` and the list's properties."""
    dataset, _ = _dataset(project_id, name, Action.ENTITY_READ)
    props = [p.name for p in entities.properties(context.db(), dataset)]
    return odata_response(entity_metadata_xml(dataset.name, props), "application/xml")


#: Entities opened and written per database read of the CSV export.
CSV_BATCH = 500
CSV_SYSTEM = (
    "__createdAt",
    "__creatorId",
    "__creatorName",
    "__updates",
    "__updatedAt",
    "__version",
)


@bp.get("/<name>/entities.csv")
@operation(
    "Every live entity of a list as CSV, newest first",
    "project",
    produces="text/csv",
    query=(("$filter", "string", f"on {', '.join(entities.FEED_FIELDS)}"),),
)
def entities_csv(project_id: int, name: str) -> Response:
    """Central's ``entities.csv``: ``__id``, ``label``, the properties, then system columns.

    The download is audited (``entity.export``): entity labels and data may name people.
    """
    dataset, actor = _dataset(project_id, name, Action.ENTITY_READ)
    unknown = sorted(k for k in request.args if k.startswith("$") and k != "$filter")
    if unknown:
        raise ODataNotImplemented(f"options {', '.join(unknown)} are not implemented here")
    session = context.db()
    text = request.args.get("$filter") or None
    entities.check_feed_filter(text)
    props = [p.name for p in entities.properties(session, dataset)]
    # Whether it was filtered, not the filter: its literals are free text, a name even.
    audit.record(
        session,
        actor,
        "entity.export",
        project_id=project_id,
        subject=dataset.name,
        filtered=text is not None,
    )
    context.commit()
    rows = _csv_rows(session, context.secrets(), dataset, props, text)
    response = Response(context.streamed(rows, session), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{dataset.name}.csv"'
    return response


def _csv_rows(
    session: Session, secrets: Secrets, dataset: Dataset, props: list[str], text: str | None
) -> Iterator[str]:
    """The CSV, a batch of entities at a time (each batch one keyset read); it runs after
    the request has ended, so it is handed what it needs."""
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(["__id", "label", *props, *CSV_SYSTEM])
    after = None
    while True:
        query = entities.FeedQuery(filter=text, after=after, top=CSV_BATCH)
        page = entities.feed(session, dataset, query)
        names = entities.creator_names(session, page.entities)
        for entity in page.entities:
            opened = entities.contents(session, secrets, dataset, entity)
            creator = entity.creator_id
            out.writerow(
                [
                    entity.uuid,
                    opened.label,
                    *(opened.data.get(p, "") for p in props),
                    iso(entity.created_at),
                    "" if creator is None else creator,
                    "" if creator is None else names.get(creator) or "",
                    entity.version - 1,
                    iso(entity.updated_at) or "",
                    entity.version,
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if not isinstance(page.resume, Token):
            return
        after = page.resume
