"""Entities from submissions: a registration form creates them, a follow-up form updates them,
their values come from the pseudonymised record, and what cannot be applied is audited."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from collector import audit, entities, entityflow, publishing, submissions, vault
from collector.audit import CLI, Actor
from collector.db import session_factory
from collector.entitychange import Change
from collector.errors import Conflict
from collector.models import (
    AuditEntry,
    Dataset,
    Entity,
    FormVersion,
    Submission,
    SubmissionRecord,
)
from forms.entity import EntityAction
from tests.support.entitylist import one_entity
from tests.support.pipeline import process_all, publish, submit
from tests.support.xlsform import HH_REGISTRATION as REGISTRATION
from tests.support.xlsform import HH_VISIT as FOLLOW_UP
from tests.support.xlsform import md_to_xlsx

LEAD = Actor("user", 1, "Lead", "admin")


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def registration(sessions: sessionmaker[Session], kek: bytes) -> FormVersion:
    with sessions() as session, session.begin():
        return publish(session, kek, REGISTRATION)


def entity_meta(entity_id: str, label: str, *, create: bool = True, base: int | None = None) -> str:
    action = 'create="1"' if create else f'update="1" baseVersion="{base}"'
    return f'<entity dataset="households" id="{entity_id}" {action}><label>{label}</label></entity>'


def register(
    sessions: sessionmaker[Session], version: FormVersion, entity_id: str, village: str
) -> str:
    values = (
        f"<full_name>Ayşe Yılmaz</full_name><village>{village}</village>"
        "<dob>1990-05-17</dob><household>4</household>"
    )
    with sessions() as session:
        return submit(session, version, values, meta=entity_meta(entity_id, f"HH {village}"))


def opened(
    sessions: sessionmaker[Session], kek: bytes, project_id: int
) -> dict[str, tuple[int, entities.Contents]]:
    with sessions() as session:
        dataset = entities.get_dataset(session, project_id, "households")
        return {
            e.uuid: (e.version, entities.contents(session, vault.Secrets(kek), dataset, e))
            for e in entities.list_entities(session, dataset)
        }


def errors(sessions: sessionmaker[Session]) -> list[dict[str, object]]:
    with sessions() as session:
        found = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "entity.error").order_by(AuditEntry.id)
        )
        return [{"subject": e.subject, **json.loads(e.details)} for e in found]


def test_publishing_declares_the_list_and_its_properties(
    sessions: sessionmaker[Session], registration: FormVersion
) -> None:
    with sessions() as session:
        dataset = entities.get_dataset(session, registration.form.project_id, "households")
        names = [p.name for p in entities.properties(session, dataset)]
    assert names == ["village", "born", "hh_size"]


def test_a_registration_creates_its_entity_from_the_record(
    sessions: sessionmaker[Session], registration: FormVersion, kek: bytes
) -> None:
    entity_id = str(uuid.uuid4())
    instance_id = register(sessions, registration, entity_id, "Karşıyaka")
    process_all(sessions, kek)
    found = opened(sessions, kek, registration.form.project_id)
    version, contents = found[entity_id]
    assert version == 1
    assert contents.label == "HH Karşıyaka"
    # The date of birth is a quasi-identifier with the rule 'year': generalised, as stored.
    assert contents.data == {"village": "Karşıyaka", "born": "1990", "hh_size": "4"}
    with sessions() as session:
        record = session.scalars(select(SubmissionRecord)).one()
        stored = json.loads(record.data)["entity"]
        created = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "entity.create")
        ).one()
    assert stored == {
        "dataset": "households",
        "id": entity_id,
        "create": True,
        "update": False,
        "baseVersion": None,
    }
    assert json.loads(created.details)["submission"] == instance_id
    assert errors(sessions) == []


def test_the_identifier_never_reaches_the_entity(
    sessions: sessionmaker[Session], registration: FormVersion, kek: bytes
) -> None:
    register(sessions, registration, str(uuid.uuid4()), "Bornova")
    process_all(sessions, kek)
    with sessions() as session:
        raw = b"".join(row.sealed for row in session.scalars(select(Entity)))
    assert b"Ay" not in raw  # sealed at rest
    [(_, contents)] = opened(sessions, kek, registration.form.project_id).values()
    assert "Ayşe" not in json.dumps([contents.label, contents.data], ensure_ascii=False)


def test_a_follow_up_updates_the_entity_at_its_version(
    sessions: sessionmaker[Session], registration: FormVersion, kek: bytes
) -> None:
    entity_id = str(uuid.uuid4())
    registered = register(sessions, registration, entity_id, "Konak")
    process_all(sessions, kek)
    project_id = registration.form.project_id
    with sessions() as session, session.begin():
        visit = publishing.publish_xlsform(session, project_id, md_to_xlsx(FOLLOW_UP))
    with sessions() as session:
        visited = submit(
            session,
            visit,
            f"<household_id>{entity_id}</household_id><status>moved</status><household>5</household>",
            meta=entity_meta(entity_id, "", create=False, base=1),
        )
    process_all(sessions, kek)
    version, contents = opened(sessions, kek, project_id)[entity_id]
    assert version == 2
    assert contents.label == "HH Konak"  # an update without a label keeps it
    assert contents.data == {"village": "Konak", "born": "1990", "hh_size": "5", "status": "moved"}

    # A second visit made on a tablet still holding version 1 applies too, over the first,
    # and flags the entity: both set a property the first had changed (a hard conflict).
    with sessions() as session:
        stale = submit(
            session,
            visit,
            f"<household_id>{entity_id}</household_id><status>back</status><household>6</household>",
            meta=entity_meta(entity_id, "", create=False, base=1),
        )
    process_all(sessions, kek)
    version, contents = opened(sessions, kek, project_id)[entity_id]
    assert version == 3
    assert contents.data == {"village": "Konak", "born": "1990", "hh_size": "6", "status": "back"}
    assert errors(sessions) == []
    # The history keeps every version, each with the submission that made it.
    with sessions() as session:
        dataset = entities.get_dataset(session, project_id, "households")
        entity = entities.get_entity(session, dataset, entity_id)
        history = entities.versions(session, vault.Secrets(kek), dataset, entity)
    assert entity.conflict == "hard"
    assert [(v.row.version, v.row.base_version, v.current) for v in history] == [
        (1, None, False),
        (2, 1, False),
        (3, 1, True),
    ]
    assert [v.row.source_instance_id for v in history] == [registered, visited, stale]
    assert json.loads(history[2].row.conflicting_properties or "") == ["status", "hh_size"]
    assert history[0].contents.data == {"village": "Konak", "born": "1990", "hh_size": "4"}
    assert history[2].contents == contents


def test_changes_that_cannot_apply_are_audited_and_the_data_stays(
    sessions: sessionmaker[Session], registration: FormVersion, kek: bytes
) -> None:
    taken = str(uuid.uuid4())
    register(sessions, registration, taken, "Buca")
    duplicate = register(sessions, registration, taken, "Çiğli")
    with sessions() as session:
        no_label = submit(
            session,
            registration,
            "<village></village><household>1</household>",
            meta=entity_meta(str(uuid.uuid4()), ""),
        )
        bad_id = submit(
            session, registration, "<village>Gaziemir</village>", meta=entity_meta("7", "HH")
        )
    process_all(sessions, kek)
    found = opened(sessions, kek, registration.form.project_id)
    assert [c.label for _v, c in found.values()] == ["HH Buca"]
    problems = {p["subject"]: p["code"] for p in errors(sessions)}
    assert problems == {duplicate: 409.3, no_label: 400.2, bad_id: 400.8}
    # An id that is not a UUID is not carried into the audit entry (nor the record).
    assert {p["subject"]: p["entity"] for p in errors(sessions)}[bad_id] == ""
    for problem in errors(sessions):  # codes and a class name, never a submitted value
        assert "Çiğli" not in json.dumps(problem, ensure_ascii=False)
    with sessions() as session:
        assert {s.state for s in session.scalars(select(Submission))} == {"processed"}
        history = audit.for_submission(session, registration.form.project_id, [duplicate])
        assert [e.action for e in history] == ["entity.error"]


def test_a_list_that_requires_approval_waits_for_it(
    sessions: sessionmaker[Session], registration: FormVersion, kek: bytes
) -> None:
    project_id = registration.form.project_id
    with sessions() as session, session.begin():
        session.scalars(select(Dataset)).one().approval_required = True
    entity_id = str(uuid.uuid4())
    instance_id = register(sessions, registration, entity_id, "Menemen")
    process_all(sessions, kek)
    assert opened(sessions, kek, project_id) == {}
    with sessions() as session, session.begin():
        root = session.scalars(select(Submission)).one()
        submissions.set_review(session, root, "hasIssues", actor=LEAD, secrets=vault.Secrets(kek))
    assert opened(sessions, kek, project_id) == {}
    for state in ("approved", "received", "approved"):  # approving again creates nothing more
        with sessions() as session, session.begin():
            root = session.scalars(select(Submission)).one()
            submissions.set_review(session, root, state, actor=LEAD, secrets=vault.Secrets(kek))
    assert opened(sessions, kek, project_id)[entity_id][1].label == "HH Menemen"
    assert errors(sessions) == []
    assert instance_id


def test_an_approval_before_processing_still_creates_the_entity(
    sessions: sessionmaker[Session], registration: FormVersion, kek: bytes
) -> None:
    with sessions() as session, session.begin():
        session.scalars(select(Dataset)).one().approval_required = True
    entity_id = str(uuid.uuid4())
    register(sessions, registration, entity_id, "Urla")
    with sessions() as session, session.begin():
        root = session.scalars(select(Submission)).one()
        assert root.state == "received"
        submissions.set_review(session, root, "approved", actor=LEAD, secrets=vault.Secrets(kek))
    assert opened(sessions, kek, registration.form.project_id) == {}
    process_all(sessions, kek)
    assert opened(sessions, kek, registration.form.project_id)[entity_id][1].label == "HH Urla"


def test_two_updates_from_the_same_version_cannot_both_apply(
    sessions: sessionmaker[Session], kek: bytes
) -> None:
    """The second writer read version 1 before the first committed version 2: its write is
    refused (409.15), not applied over the first."""
    secrets = vault.Secrets(kek)
    with sessions() as session, session.begin():
        _project, dataset, made = one_entity(session, kek, "people", "A", {"status": "new"})
        entity_uuid, dataset_id = made.uuid, dataset.id
    with sessions() as late:
        late_dataset = late.get_one(Dataset, dataset_id)
        stale = entities.get_entity(late, late_dataset, entity_uuid)
        assert stale.version == 1
        with sessions() as first, first.begin():
            first_dataset = first.get_one(Dataset, dataset_id)
            current = entities.get_entity(first, first_dataset, entity_uuid)
            change = entities.Update(data={"status": "first"}, base_version=1)
            entities.update_entity(first, secrets, first_dataset, current, change, actor=CLI)
        change = entities.Update(data={"status": "second"}, base_version=1)
        with pytest.raises(Conflict) as refused:
            entities.update_entity(late, secrets, late_dataset, stale, change, actor=CLI)
        assert refused.value.code == 409.15
        late.rollback()
    with sessions() as session:
        dataset = session.get_one(Dataset, dataset_id)
        entity = entities.get_entity(session, dataset, entity_uuid)
        opened = entities.contents(session, secrets, dataset, entity)
    assert (entity.version, opened.data) == (2, {"status": "first"})


def test_a_submission_that_races_another_writer_applies_after_it(
    sessions: sessionmaker[Session], kek: bytes
) -> None:
    """A worker read version 1; another writer commits version 2 before the worker's update
    of version 1 is written. The worker's write is refused, read again and applied as an
    update on an older version (a conflict), not lost."""
    secrets = vault.Secrets(kek)
    with sessions() as session, session.begin():
        project, dataset, made = one_entity(session, kek, "people", "A", {"status": "new"})
        entity_uuid, dataset_id = made.uuid, dataset.id
    action = EntityAction("people", entity_uuid, create=False, update=True, base_version=1)
    data = {"status": "late"}
    change = Change(project.id, 0, 0, "uuid:late", action, "", data, None, None, edit=False)
    with sessions() as late:
        late_dataset = late.get_one(Dataset, dataset_id)
        held = entities.get_entity(late, late_dataset, entity_uuid)  # read, and kept
        assert held.version == 1
        with sessions() as first, first.begin():
            first_dataset = first.get_one(Dataset, dataset_id)
            current = entities.get_entity(first, first_dataset, entity_uuid)
            update = entities.Update(data={"status": "first"}, base_version=1)
            entities.update_entity(first, secrets, first_dataset, current, update, actor=CLI)
        applied = entityflow.apply(late, secrets, change)
        late.commit()
    assert applied is not None
    with sessions() as session:
        dataset = session.get_one(Dataset, dataset_id)
        entity = entities.get_entity(session, dataset, entity_uuid)
        history = entities.versions(session, secrets, dataset, entity)
    assert [(v.row.version, v.row.base_version) for v in history] == [(1, None), (2, 1), (3, 1)]
    assert [v.contents.data["status"] for v in history] == ["new", "first", "late"]
    assert entity.conflict == "hard"
    assert errors(sessions) == []
