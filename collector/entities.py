"""Entity lists (Central's datasets) and their entities, as far as pyodk uses them.

An entity's label and data may name people, so both are sealed together under the project's
data key (bound to the project, list and uuid); only ids, versions and times are plain.
Versions follow Central: each update adds one, and an update must name the version it was based
on (``baseVersion``) unless it is forced.
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import audit, keyring, vault
from collector.audit import Actor
from collector.errors import Conflict, InvalidInput, NotFound
from collector.models import Dataset, DatasetProperty, Entity, utcnow

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,199}")
_RESERVED = frozenset({"name", "label"})


@dataclass(frozen=True)
class Contents:
    """An entity's opened label and data."""

    label: str
    data: dict[str, str]


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
    payload = json.dumps({"label": c.label, "data": c.data}, ensure_ascii=False).encode()
    return vault.seal_value(
        secrets, session, dataset.project_id, payload, _what(dataset, entity_uuid)
    )


def contents(
    session: Session, secrets: vault.Secrets, dataset: Dataset, entity: Entity
) -> Contents:
    """Open an entity's label and data."""
    raw = vault.open_value(
        secrets,
        session,
        dataset.project_id,
        entity.key_version,
        entity.sealed,
        _what(dataset, entity.uuid),
    )
    doc = json.loads(raw)
    return Contents(doc["label"], dict(doc["data"]))


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
) -> list[Entity]:
    """Create entities (all or none)."""
    created = []
    for item in items:
        entity_uuid = _uuid(item.uuid)
        if not item.label.strip():
            raise InvalidInput("an entity needs a label", code=400.2, field="label")
        if _find(session, dataset, entity_uuid) is not None:
            raise Conflict(f"entity {entity_uuid} already exists", code=409.3, uuid=entity_uuid)
        body = Contents(item.label, _check_data(session, dataset, item.data))
        key_version, sealed = _seal(session, secrets, dataset, entity_uuid, body)
        entity = Entity(
            dataset_id=dataset.id,
            uuid=entity_uuid,
            version=1,
            sealed=sealed,
            key_version=key_version,
            creator_id=actor.id if actor.type == "user" else None,
            user_agent=(user_agent or "")[:500] or None,
        )
        session.add(entity)
        session.flush()
        created.append(entity)
    audit.record(
        session,
        actor,
        "entity.create",
        project_id=dataset.project_id,
        subject=dataset.name,
        count=len(created),
    )
    return created


def _find(session: Session, dataset: Dataset, entity_uuid: str) -> Entity | None:
    return session.scalars(
        select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == entity_uuid)
    ).one_or_none()


def get_entity(session: Session, dataset: Dataset, entity_uuid: str) -> Entity:
    """Return a live entity or raise NotFound."""
    entity = _find(session, dataset, entity_uuid)
    if entity is None or entity.deleted_at is not None:
        raise NotFound(f"entity {entity_uuid} does not exist in {dataset.name!r}")
    return entity


def list_entities(session: Session, dataset: Dataset) -> list[Entity]:
    """Return an entity list's live entities, oldest first."""
    stmt = select(Entity).where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None))
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
) -> Entity:
    """Apply an update as a new version of the entity."""
    if not change.force and change.base_version is None:
        raise InvalidInput("an update names its baseVersion, or is forced", code=400.2)
    if not change.force and change.base_version != entity.version:
        raise Conflict(
            f"entity {entity.uuid} is at version {entity.version}, not {change.base_version}",
            code=409.15,
            current=entity.version,
        )
    old = contents(session, secrets, dataset, entity)
    data = {**old.data, **_check_data(session, dataset, change.data or {})}
    label = change.label if change.label is not None else old.label
    if not label.strip():
        raise InvalidInput("an entity needs a label", code=400.8, field="label")
    entity.key_version, entity.sealed = _seal(
        session, secrets, dataset, entity.uuid, Contents(label, data)
    )
    entity.version += 1
    entity.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "entity.update",
        project_id=dataset.project_id,
        subject=entity.uuid,
        version=entity.version,
        forced=change.force,
    )
    return entity


def delete_entity(session: Session, dataset: Dataset, entity: Entity, *, actor: Actor) -> None:
    """Soft-delete an entity."""
    entity.deleted_at = utcnow()
    session.flush()
    audit.record(
        session, actor, "entity.delete", project_id=dataset.project_id, subject=entity.uuid
    )
