"""A project with one entity list and one entity in it, made through the domain functions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from collector import entities, keyring, vault
from collector.audit import CLI
from collector.models import Dataset, Entity, Project


def one_entity(
    session: Session, kek: bytes, list_name: str, label: str, data: dict[str, str]
) -> tuple[Project, Dataset, Entity]:
    """Create a project, a list with ``data``'s properties and one entity (version 1)."""
    project = keyring.create_project(session, f"Project of {list_name}", kek, bits=2048)
    dataset = entities.create_dataset(session, project.id, list_name, False, actor=CLI)
    for name in data:
        entities.add_property(session, dataset, name, actor=CLI)
    (made,) = entities.create_entities(
        session, vault.Secrets(kek), dataset, [entities.NewEntity(label, data)], actor=CLI
    )
    return project, dataset, made
