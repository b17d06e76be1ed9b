"""The migrations build exactly the schema the models describe, and carry data forward."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from collector import entities, vault
from collector.audit import CLI
from collector.db import alembic_config, session_factory
from collector.models import Base, EntityVersion
from tests.support.entitylist import one_entity


def test_the_migrated_schema_is_the_models_schema(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_entities_made_before_their_history_was_kept_get_their_current_version(
    db_engine: Engine, kek: bytes
) -> None:
    sessions = session_factory(db_engine)
    secrets = vault.Secrets(kek)
    with sessions() as session, session.begin():
        project, dataset, made = one_entity(session, kek, "wells", "Well 1", {"depth": "30"})
        change = entities.Update(label="Well 1 (deep)", data={"depth": "45"}, base_version=1)
        entities.update_entity(session, secrets, dataset, made, change, actor=CLI)
        uuid = made.uuid
    # Back to the schema without the history, and forward again: the backfill runs.
    config = alembic_config(db_engine)
    command.downgrade(config, "0005")
    command.upgrade(config, "head")
    with sessions() as session:
        dataset = entities.get_dataset(session, project.id, "wells")
        entity = entities.get_entity(session, dataset, uuid)
        [version] = entities.versions(session, secrets, dataset, entity)
        assert (version.row.version, version.row.base_version, version.current) == (2, 1, True)
        assert version.row.creator_id is None  # who updated it was never recorded
        assert version.contents == entities.Contents("Well 1 (deep)", {"depth": "45"})
        assert session.scalars(select(EntityVersion.entity_id)).all() == [entity.id]
