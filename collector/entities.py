"""Entity lists (Central's datasets) and their entities, as far as pyodk uses them.

An entity's label and data may name people, so both are sealed together under the project's
data key (bound to the project, list and uuid); only ids, versions and times are plain.
Versions follow Central: each update adds one, and an update must name the version it was based
on (``baseVersion``) unless it is forced.

The OData feed (``feed``) reads as Central's does: newest first (``createdAt`` then id,
descending), ``$filter`` and ``$orderby`` on ``__id`` and ``__system/`` ``createdAt``,
``updatedAt``, ``deletedAt``, ``creatorId`` and ``conflict`` (the submission feed's filter parser
with an entity column map; deleted entities only when the filter names ``deletedAt``), and keyset
pages: a ``$skiptoken`` names the last entity of the previous page. An ordered read pages by
``$skip`` instead.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from collector import audit, keyring, vault
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, NotFound
from collector.models import Dataset, DatasetProperty, Entity, EntityVersion, User, utcnow
from collector.odata.errors import BadOption, ODataNotImplemented
from collector.odata.filter import Expr, Target, matches, parse, split
from collector.odata.query import Token

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,199}")
_RESERVED = frozenset({"name", "label"})


@dataclass(frozen=True)
class Contents:
    """An entity's opened label and data, and for a version what its writer gave (``label``
    among them when it gave one; None for a version kept before this was)."""

    label: str
    data: dict[str, str]
    received: dict[str, str] | None = field(default=None, compare=False)


def _check_name(name: str, what: str) -> None:
    if not _NAME.fullmatch(name) or name.startswith("__"):
        raise InvalidInput(
            f"{name!r} is not a valid {what} name (letters, digits, _ . -; not starting __)",
            code=400.8,
            name=name,
        )


def list_datasets(session: Session, project_id: int) -> list[Dataset]:
    """Return a project's entity lists by name."""
    keyring.get_project(session, project_id)
    stmt = select(Dataset).where(Dataset.project_id == project_id).order_by(Dataset.name)
    return list(session.scalars(stmt))


def get_dataset(session: Session, project_id: int, name: str) -> Dataset:
    """Return an entity list or raise NotFound."""
    found = session.scalars(
        select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name)
    ).one_or_none()
    if found is None:
        raise NotFound(f"entity list {name!r} does not exist in project {project_id}")
    return found


def create_dataset(
    session: Session, project_id: int, name: str, approval_required: bool, *, actor: Actor
) -> Dataset:
    """Create an entity list."""
    keyring.get_project(session, project_id)
    _check_name(name, "entity list")
    if session.scalars(
        select(Dataset.id).where(Dataset.project_id == project_id, Dataset.name == name)
    ).first():
        raise Conflict(f"entity list {name!r} already exists", code=409.3, name=name)
    dataset = Dataset(project_id=project_id, name=name, approval_required=approval_required)
    session.add(dataset)
    session.flush()
    audit.record(session, actor, "dataset.create", project_id=project_id, subject=name)
    return dataset


def set_approval(session: Session, dataset: Dataset, required: bool, *, actor: Actor) -> None:
    """Require approval of a submission before it creates or updates entities, or stop."""
    if dataset.approval_required == required:
        return
    dataset.approval_required = required
    session.flush()
    audit.record(
        session,
        actor,
        "dataset.update",
        project_id=dataset.project_id,
        subject=dataset.name,
        approvalRequired=required,
    )


def properties(session: Session, dataset: Dataset) -> list[DatasetProperty]:
    """Return an entity list's properties in creation order."""
    stmt = select(DatasetProperty).where(DatasetProperty.dataset_id == dataset.id)
    return list(session.scalars(stmt.order_by(DatasetProperty.id)))


def add_property(session: Session, dataset: Dataset, name: str, *, actor: Actor) -> DatasetProperty:
    """Add a property to an entity list."""
    _check_name(name, "property")
    if name in _RESERVED:
        raise InvalidInput(f"{name!r} is reserved", code=400.8, name=name)
    if name in {p.name for p in properties(session, dataset)}:
        raise Conflict(f"property {name!r} already exists", code=409.3, name=name)
    row = DatasetProperty(dataset_id=dataset.id, name=name)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "dataset.property",
        project_id=dataset.project_id,
        subject=dataset.name,
        name=name,
    )
    return row


def _what(dataset: Dataset, entity_uuid: str) -> str:
    return f"entity/{dataset.id}/{entity_uuid}"


def _seal(
    session: Session, secrets: vault.Secrets, dataset: Dataset, entity_uuid: str, c: Contents
) -> tuple[int, bytes]:
    doc: dict[str, Any] = {"label": c.label, "data": c.data}
    if c.received is not None:
        doc["received"] = c.received
    payload = json.dumps(doc, ensure_ascii=False).encode()
    return vault.seal_value(
        secrets, session, dataset.project_id, payload, _what(dataset, entity_uuid)
    )


def contents(
    session: Session, secrets: vault.Secrets, dataset: Dataset, entity: Entity
) -> Contents:
    """Open an entity's label and data."""
    return _open(session, secrets, dataset, entity.uuid, entity.key_version, entity.sealed)


def _open(
    session: Session,
    secrets: vault.Secrets,
    dataset: Dataset,
    entity_uuid: str,
    key_version: int,
    sealed: bytes,
) -> Contents:
    raw = vault.open_value(
        secrets, session, dataset.project_id, key_version, sealed, _what(dataset, entity_uuid)
    )
    doc = json.loads(raw)
    received = doc.get("received")
    return Contents(doc["label"], dict(doc["data"]), None if received is None else dict(received))


def _check_data(session: Session, dataset: Dataset, data: Mapping[str, Any]) -> dict[str, str]:
    known = {p.name for p in properties(session, dataset)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(
            f"entity list {dataset.name!r} has no properties {', '.join(unknown)}",
            code=400.28,
            properties=unknown,
        )
    return {k: "" if v is None else str(v) for k, v in data.items()}


def _uuid(given: str | None) -> str:
    if given is None:
        return str(uuidlib.uuid4())
    try:
        return str(uuidlib.UUID(given))
    except ValueError:
        raise InvalidInput(f"{given!r} is not a UUID", code=400.8, uuid=given) from None


@dataclass(frozen=True)
class NewEntity:
    """One entity to create."""

    label: str
    data: Mapping[str, Any]
    uuid: str | None = None


def create_entities(
    session: Session,
    secrets: vault.Secrets,
    dataset: Dataset,
    items: Sequence[NewEntity],
    *,
    actor: Actor,
    user_agent: str | None = None,
    creator_id: int | None = None,
    source: Mapping[str, Any] | None = None,
) -> list[Entity]:
    """Create entities (all or none). ``source`` says where they came from (a submission) in
    the audit entry; ``creator_id`` names their creator when the actor is not a web user."""
    created = []
    for item in items:
        entity_uuid = _uuid(item.uuid)
        if not item.label.strip():
            raise InvalidInput("an entity needs a label", code=400.2, field="label")
        if find_entity(session, dataset, entity_uuid) is not None:
            raise Conflict(f"entity {entity_uuid} already exists", code=409.3, uuid=entity_uuid)
        data = _check_data(session, dataset, item.data)
        body = Contents(item.label, data, {"label": item.label, **data})
        key_version, sealed = _seal(session, secrets, dataset, entity_uuid, body)
        entity = Entity(
            dataset_id=dataset.id,
            uuid=entity_uuid,
            version=1,
            sealed=sealed,
            key_version=key_version,
            creator_id=actor.id if actor.type == "user" else creator_id,
            user_agent=(user_agent or "")[:500] or None,
        )
        session.add(entity)
        session.flush()
        _add_version(session, entity, None, entity.creator_id, entity.user_agent, source)
        created.append(entity)
    audit.record(
        session,
        actor,
        "entity.create",
        project_id=dataset.project_id,
        subject=dataset.name,
        count=len(created),
        **(source or {}),
    )
    return created


def find_entity(session: Session, dataset: Dataset, entity_uuid: str) -> Entity | None:
    """Return the entity with this uuid, even deleted; None when there is none."""
    return session.scalars(
        select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == entity_uuid)
    ).one_or_none()


def get_entity(session: Session, dataset: Dataset, entity_uuid: str) -> Entity:
    """Return a live entity or raise NotFound."""
    entity = find_entity(session, dataset, entity_uuid)
    if entity is None or entity.deleted_at is not None:
        raise NotFound(f"entity {entity_uuid} does not exist in {dataset.name!r}")
    return entity


def attachment_csv(session: Session, secrets: vault.Secrets, dataset: Dataset) -> bytes:
    """The entity list as a form's data file (``select_one_from_file <list>.csv``), as Central
    writes it for Collect: ``name`` (the uuid), ``label``, ``__version``, then the properties;
    live entities, newest first."""
    props = [p.name for p in properties(session, dataset)]
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["name", "label", "__version", *props])
    stmt = (
        select(Entity)
        .where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None))
        .order_by(Entity.created_at.desc(), Entity.id.desc())
    )
    for entity in session.scalars(stmt):
        opened = contents(session, secrets, dataset, entity)
        out.writerow(
            [entity.uuid, opened.label, entity.version, *(opened.data.get(p, "") for p in props)]
        )
    return buffer.getvalue().encode()


def _deleted(deleted: bool) -> ColumnElement[bool]:
    """Deleted entities (or live ones)."""
    return Entity.deleted_at.is_not(None) if deleted else Entity.deleted_at.is_(None)


def list_entities(session: Session, dataset: Dataset, *, deleted: bool = False) -> list[Entity]:
    """Return an entity list's live entities (or its deleted ones), oldest first."""
    stmt = select(Entity).where(Entity.dataset_id == dataset.id, _deleted(deleted))
    return list(session.scalars(stmt.order_by(Entity.id)))


@dataclass(frozen=True)
class Update:
    """A change to an entity: a new label and/or data, based on a version unless forced."""

    label: str | None = None
    data: Mapping[str, Any] | None = None
    base_version: int | None = None
    force: bool = False


def update_entity(
    session: Session,
    secrets: vault.Secrets,
    dataset: Dataset,
    entity: Entity,
    change: Update,
    *,
    actor: Actor,
    source: Mapping[str, Any] | None = None,
    creator_id: int | None = None,
    user_agent: str | None = None,
    offline: bool = False,
) -> Entity:
    """Apply an update as a new version of the entity, kept in its history.

    Over the API an update must be based on the current version (or forced). A submission's
    update (``offline``) was made on a tablet that may not have seen the latest version, so, as
    in Central, one based on an older version still applies (its values over the current ones)
    and flags the entity: a ``soft`` conflict, or ``hard`` when it sets a property (or the
    label) to something other than what it had been changed to since its base. A conflict
    stays until resolved (``resolve_conflict``); a hard one is not softened by a later update.

    The row is written only if it is still at the version read (the model's version column),
    so of two updates based on the same version the second is refused, on either database.
    ``creator_id`` names who made the version when the actor is not a web user.
    """
    if not change.force and change.base_version is None:
        raise InvalidInput("an update names its baseVersion, or is forced", code=400.2)
    base = read = entity.version
    stale = not change.force and change.base_version != entity.version
    if stale:
        base = _older_base(entity, change.base_version, offline)
    given = _check_data(session, dataset, change.data or {})
    received = given if change.label is None else {"label": change.label, **given}
    old = contents(session, secrets, dataset, entity)
    conflicting: list[str] | None = None
    if stale:
        conflicting = _conflicting(session, secrets, dataset, entity, base, old, received)
        if entity.conflict != "hard":
            entity.conflict = "hard" if conflicting else "soft"
    data = {**old.data, **given}
    label = change.label if change.label is not None else old.label
    if not label.strip():
        raise InvalidInput("an entity needs a label", code=400.8, field="label")
    entity.key_version, entity.sealed = _seal(
        session, secrets, dataset, entity.uuid, Contents(label, data, received)
    )
    entity.version += 1
    entity.updated_at = utcnow()
    _flush_unchanged_since(session, entity, read)
    maker = actor.id if actor.type == "user" else creator_id
    _add_version(session, entity, base, maker, user_agent, source, conflicting)
    audit.record(
        session,
        actor,
        "entity.update",
        project_id=dataset.project_id,
        subject=entity.uuid,
        version=entity.version,
        forced=change.force,
        **({"conflict": entity.conflict} if conflicting is not None else {}),
        **(source or {}),
    )
    return entity


def _older_base(entity: Entity, base_version: int | None, offline: bool) -> int:
    """Check that a submission's base version is an older version of the entity; refuse it
    otherwise (over the API, any base but the current one)."""
    if offline and base_version is not None and 0 < base_version < entity.version:
        return base_version
    if offline:
        raise NotFound(
            f"entity {entity.uuid} has no version {base_version}",
            code=404.9,
            baseVersion=base_version,
        )
    raise stale_version(entity, base_version)


def stale_version(entity: Entity, base_version: int | None) -> Conflict:
    """The problem of a change based on another version than the current one (409.15)."""
    return Conflict(
        f"entity {entity.uuid} is at version {entity.version}, not {base_version}",
        code=409.15,
        current=entity.version,
    )


def _conflicting(
    session: Session,
    secrets: vault.Secrets,
    dataset: Dataset,
    entity: Entity,
    base: int,
    current: Contents,
    received: Mapping[str, str],
) -> list[str]:
    """What an update on ``base`` sets differently from how it changed since (Central's
    conflicting properties): empty when the two changed different things."""
    row = session.scalars(
        select(EntityVersion).where(
            EntityVersion.entity_id == entity.id, EntityVersion.version == base
        )
    ).one_or_none()
    if row is None:  # kept before versions were: what changed since is unknown
        changed = {"label": current.label, **current.data}
    else:
        was = _open(session, secrets, dataset, entity.uuid, row.key_version, row.sealed)
        changed = {k: v for k, v in current.data.items() if was.data.get(k) != v}
        if current.label != was.label:
            changed["label"] = current.label
    return [k for k, v in received.items() if k in changed and changed[k] != v]


def resolve_conflict(session: Session, dataset: Dataset, entity: Entity, *, actor: Actor) -> None:
    """Mark an entity's conflict resolved (its versions so far with it); audited."""
    if entity.conflict is None:
        raise InvalidInput(f"entity {entity.uuid} has no conflict", code=400.32)
    was = entity.conflict
    entity.conflict = None
    entity.resolved_version = entity.version
    entity.updated_at = utcnow()
    _flush_unchanged_since(session, entity, entity.version)
    audit.record(
        session,
        actor,
        "entity.update.resolve",
        project_id=dataset.project_id,
        subject=entity.uuid,
        version=entity.version,
        conflict=was,
    )


def _add_version(
    session: Session,
    entity: Entity,
    base_version: int | None,
    creator_id: int | None,
    user_agent: str | None,
    source: Mapping[str, Any] | None,
    conflicting: list[str] | None = None,
) -> None:
    """Keep the entity's version just written (sealed as the entity row is) in its history."""
    submission = (source or {}).get("submission")
    session.add(
        EntityVersion(
            entity_id=entity.id,
            version=entity.version,
            base_version=base_version,
            sealed=entity.sealed,
            key_version=entity.key_version,
            creator_id=creator_id,
            user_agent=(user_agent or "")[:500] or None,
            source_instance_id=str(submission)[:200] if submission else None,
            conflicting_properties=None if conflicting is None else json.dumps(conflicting),
            created_at=entity.updated_at or entity.created_at,
        )
    )


@dataclass(frozen=True)
class Version:
    """One version of an entity, opened."""

    row: EntityVersion
    contents: Contents
    current: bool


def versions(
    session: Session, secrets: vault.Secrets, dataset: Dataset, entity: Entity
) -> list[Version]:
    """Every version of an entity, oldest first, with its label and data opened."""
    rows = session.scalars(
        select(EntityVersion)
        .where(EntityVersion.entity_id == entity.id)
        .order_by(EntityVersion.version)
    ).all()
    return [
        Version(
            row,
            _open(session, secrets, dataset, entity.uuid, row.key_version, row.sealed),
            row.version == entity.version,
        )
        for row in rows
    ]


def received(version: Version) -> dict[str, str]:
    """What a version's writer gave (``label`` among it); for a version kept before this was
    recorded, all it holds."""
    opened = version.contents
    if opened.received is not None:
        return opened.received
    return {"label": opened.label, **opened.data}


@dataclass(frozen=True)
class ConflictView:
    """How one version stands in its entity's conflicts, as Central's history shows it.

    ``conflict``: ``soft``/``hard`` for a version applied on an older base than the one before
    it; ``resolved`` once a resolution came after it; ``base_diff``/``server_diff``: what it
    gave that differed from its base version and from the version before it;
    ``last_good_version``: the version before the first unresolved conflict (the newest when
    none is); ``relevant_to_conflict``: from that version on, and the bases of those after it.
    """

    conflict: str | None
    resolved: bool
    base_diff: list[str]
    server_diff: list[str]
    last_good_version: bool
    relevant_to_conflict: bool


def conflict_views(entity: Entity, history: Sequence[Version]) -> list[ConflictView]:
    """The conflict view of each version in ``history`` (oldest first, as ``versions``)."""
    by_version = {v.row.version: v for v in history}

    def diff(given: Mapping[str, str], other: int | None) -> list[str]:
        found = by_version.get(other) if other is not None else None
        if found is None:  # the first version, or one kept before its history was
            return []
        was = {**found.contents.data, "label": found.contents.label}
        return [k for k, v in given.items() if was.get(k) != v]

    last_good = 0
    bases: set[int] = set()
    drafts: list[dict[str, Any]] = []
    for v in history:
        row = v.row
        item: dict[str, Any] = {"conflict": None, "resolved": False, "base": [], "server": []}
        if row.version > 1 and row.base_version is not None:
            given = received(v)
            item["base"] = diff(given, row.base_version)
            item["server"] = diff(given, row.version - 1)
            if row.version != row.base_version + 1:
                props = json.loads(row.conflicting_properties or "[]")
                item["conflict"] = "hard" if props else "soft"
                settled = entity.resolved_version
                item["resolved"] = settled is not None and settled >= row.version
                if not item["resolved"] and last_good == 0:
                    last_good = row.version - 1
            if last_good > 0:
                bases.add(row.base_version)
        drafts.append(item)
    newest = history[-1].row.version if history else 0
    return [
        ConflictView(
            item["conflict"],
            item["resolved"],
            item["base"],
            item["server"],
            v.row.version == (last_good or newest),
            last_good > 0 and (v.row.version >= last_good or v.row.version in bases),
        )
        for v, item in zip(history, drafts, strict=True)
    ]


def current_versions(
    session: Session, dataset: Dataset, entity: Entity | None = None, *, deleted: bool = False
) -> dict[int, EntityVersion]:
    """The history row of the current version of one entity, or of every live (or deleted)
    entity in the list, by entity id, in one query."""
    stmt = select(EntityVersion).join(
        Entity,
        and_(Entity.id == EntityVersion.entity_id, Entity.version == EntityVersion.version),
    )
    if entity is not None:
        stmt = stmt.where(Entity.id == entity.id)
    else:
        stmt = stmt.where(Entity.dataset_id == dataset.id, _deleted(deleted))
    return {row.entity_id: row for row in session.scalars(stmt)}


def _flush_unchanged_since(session: Session, entity: Entity, read: int) -> None:
    """Write an entity's change, refused if another writer changed it after ``read``."""
    entity_uuid = entity.uuid  # the failed flush leaves the session unreadable until rollback
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            f"entity {entity_uuid} changed since version {read} was read", code=409.15
        ) from None


def delete_entity(session: Session, dataset: Dataset, entity: Entity, *, actor: Actor) -> None:
    """Soft-delete an entity: it leaves the list, the feed and the form attachment, and can be
    restored."""
    entity.deleted_at = utcnow()
    _flush_unchanged_since(session, entity, entity.version)
    audit.record(
        session, actor, "entity.delete", project_id=dataset.project_id, subject=entity.uuid
    )


def find_deleted(session: Session, dataset: Dataset, entity_uuid: str) -> Entity:
    """Return a deleted entity or raise NotFound (a live one is not deleted)."""
    entity = find_entity(session, dataset, entity_uuid)
    if entity is None or entity.deleted_at is None:
        raise NotFound(f"no deleted entity {entity_uuid} in {dataset.name!r}")
    return entity


def restore_entity(session: Session, dataset: Dataset, entity: Entity, *, actor: Actor) -> None:
    """Bring a deleted entity back, at the version it had (``updatedAt`` moves, as in Central,
    so that devices see the list changed)."""
    entity.deleted_at = None
    entity.updated_at = utcnow()
    _flush_unchanged_since(session, entity, entity.version)
    audit.record(
        session, actor, "entity.restore", project_id=dataset.project_id, subject=entity.uuid
    )


#: The most entities one bulk delete or restore names.
BULK_LIMIT = 10_000


def set_deleted(
    session: Session, dataset: Dataset, uuids: Sequence[str], deleted: bool, *, actor: Actor
) -> list[str]:
    """Delete (or restore) the named entities of a list that are live (or deleted); the others
    are left as they are. Returns the uuids changed, audited as one ``entity.bulk.delete`` (or
    ``entity.bulk.restore``), or as a single entity's when there is one."""
    if len(uuids) > BULK_LIMIT:
        raise InvalidInput(f"at most {BULK_LIMIT} entities at once", code=400.8)
    wanted = sorted({_uuid(u) for u in uuids})
    if not wanted:
        return []
    # Deleting takes the live ones among them, restoring the deleted ones.
    found = session.scalars(
        select(Entity)
        .where(Entity.dataset_id == dataset.id, Entity.uuid.in_(wanted), _deleted(not deleted))
        .order_by(Entity.id)
    ).all()
    now = utcnow()
    for entity in found:
        entity.deleted_at = now if deleted else None
        if not deleted:
            entity.updated_at = now
    changed = [e.uuid for e in found]
    if changed:
        try:
            session.flush()
        except StaleDataError:
            raise Conflict("an entity changed while it was being changed", code=409.15) from None
    action = "entity.delete" if deleted else "entity.restore"
    if len(changed) == 1:
        audit.record(session, actor, action, project_id=dataset.project_id, subject=changed[0])
    elif changed:
        bulk = "entity.bulk.delete" if deleted else "entity.bulk.restore"
        audit.record(
            session,
            actor,
            bulk,
            project_id=dataset.project_id,
            subject=dataset.name,
            entityUuids=changed,
        )
    return changed


#: What the OData feed filters and orders on (Central's ``odataToColumnMap``): kind and column.
FEED_FIELDS: dict[str, tuple[str, Any]] = {
    "__id": ("string", Entity.uuid),
    "__system/createdAt": ("datetime", Entity.created_at),
    "__system/updatedAt": ("datetime", Entity.updated_at),
    "__system/deletedAt": ("datetime", Entity.deleted_at),
    "__system/creatorId": ("int", Entity.creator_id),
    "__system/conflict": ("string", Entity.conflict),
}
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_]{0,60}(/[A-Za-z_][A-Za-z0-9_]{0,60}){0,4}")


def _unsupported_field(name: str, option: str) -> ODataNotImplemented:
    # Name the field only as an identifier: the text might hold anything, even a person's name.
    shown = name if _IDENTIFIER.fullmatch(name) else option
    return ODataNotImplemented(
        f"The given OData filter expression references fields not supported by this server: "
        f"{shown}",
        code=501.5,
    )


def parse_feed_order(text: str) -> tuple[tuple[str, bool], ...]:
    """Read an entity ``$orderby``: comma-separated ``field [asc|desc]`` (descending: True)."""
    clauses = []
    for clause in text.split(","):
        name, *rest = clause.split() or [""]
        if name not in FEED_FIELDS:
            raise _unsupported_field(name, "$orderby")
        if len(rest) > 1 or (rest and rest[0].lower() not in ("asc", "desc")):
            raise _unsupported_field(f"the direction after {name} (asc or desc)", "$orderby")
        clauses.append((name, bool(rest) and rest[0].lower() == "desc"))
    return tuple(clauses)


@dataclass(frozen=True)
class FeedQuery:
    """One read of the OData feed: filter, order, where to start and how many."""

    filter: str | None = None
    orderby: tuple[tuple[str, bool], ...] = ()
    after: Token | None = None
    skip: int = 0
    top: int | None = None
    count: bool = False


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed, the count of all matches if asked, and where the next page starts:
    a token after the last entity, or for an ordered read the next ``$skip``."""

    entities: list[Entity]
    count: int | None
    resume: Token | int | None


@dataclass
class _FeedFilter:
    sql: list[ColumnElement[bool]]
    rest: Expr | None
    deleted: bool  # the filter names deletedAt, so deleted entities are not left out


def _feed_filter(text: str | None) -> _FeedFilter:
    named: set[str] = set()

    def resolve(name: str) -> Target:
        if name not in FEED_FIELDS:
            raise _unsupported_field(name, "$filter")
        named.add(name)
        kind, column = FEED_FIELDS[name]
        return Target(name, kind, column)

    expr = parse(text, resolve) if text else None
    sql, rest = split(expr)
    return _FeedFilter(sql, rest, "__system/deletedAt" in named)


def check_feed_filter(text: str | None) -> None:
    """Refuse a ``$filter`` the feed cannot run, before anything is read or written."""
    _feed_filter(text)


def _feed_value(entity: Entity, key: str) -> Any:
    return {
        "__id": entity.uuid,
        "__system/createdAt": entity.created_at,
        "__system/updatedAt": entity.updated_at,
        "__system/deletedAt": entity.deleted_at,
        "__system/creatorId": entity.creator_id,
        "__system/conflict": entity.conflict,
    }[key]


def _cursor(session: Session, dataset: Dataset, token: Token) -> ColumnElement[bool]:
    last = session.get(Entity, token.submission)
    if last is None or last.dataset_id != dataset.id or token.position is not None:
        raise BadOption("Invalid $skiptoken", code=400.35, option="$skiptoken")
    return or_(
        Entity.created_at < last.created_at,
        and_(Entity.created_at == last.created_at, Entity.id < last.id),
    )


def _order(orderby: tuple[tuple[str, bool], ...]) -> list[Any]:
    if not orderby:
        return [Entity.created_at.desc(), Entity.id.desc()]
    clauses: list[Any] = []
    for name, descending in orderby:
        column = FEED_FIELDS[name][1]
        clauses.append(column.desc().nulls_last() if descending else column.asc().nulls_first())
    clauses.append(Entity.id.desc() if orderby[0][1] else Entity.id.asc())
    return clauses


def feed(session: Session, dataset: Dataset, query: FeedQuery) -> FeedPage:
    """Read one page of an entity list's OData feed (entities, not yet opened)."""
    found = _feed_filter(query.filter)
    where = [Entity.dataset_id == dataset.id, *found.sql]
    if not found.deleted:
        where.append(Entity.deleted_at.is_(None))
    count = _feed_count(session, where, found.rest) if query.count else None
    ordered = bool(query.orderby)
    if query.after is not None and not ordered:
        where.append(_cursor(session, dataset, query.after))
    skip = 0 if query.after is not None and not ordered else query.skip
    stmt: Select[Entity] = select(Entity).where(*where).order_by(*_order(query.orderby))
    if found.rest is None:
        stmt = stmt.offset(skip or None)
        if query.top is not None:
            stmt = stmt.limit(query.top + 1)
        candidates = list(session.scalars(stmt))
    else:
        rest = found.rest
        matching = (e for e in session.scalars(stmt) if matches(rest, _bind(e)))
        stop = None if query.top is None else skip + query.top + 1
        candidates = list(itertools.islice(matching, skip, stop))
    page = candidates if query.top is None else candidates[: query.top]
    more = len(candidates) > len(page) and bool(page)
    resume: Token | int | None = None
    if more:
        resume = skip + len(page) if ordered else Token(page[-1].id)
    return FeedPage(page, count, resume)


def _bind(entity: Entity) -> Callable[[str], Any]:
    return lambda key: _feed_value(entity, key)


def _feed_count(session: Session, where: list[ColumnElement[bool]], rest: Expr | None) -> int:
    if rest is None:
        return int(session.scalar(select(func.count(Entity.id)).where(*where)) or 0)
    return sum(1 for e in session.scalars(select(Entity).where(*where)) if matches(rest, _bind(e)))


def creator_names(session: Session, entities: Sequence[Entity]) -> dict[int, str | None]:
    """Return the display names of the users who created these entities (as submitterName)."""
    ids = {e.creator_id for e in entities if e.creator_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {row.id: row.display_name for row in rows}
