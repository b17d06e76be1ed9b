"""OData shows each logical submission once: its current version, named by its first."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from collector import submissions, users, vault
from collector.audit import Actor
from collector.db import session_factory, transaction
from collector.errors import NotFound
from collector.models import Form
from collector.odata.rows import row_id
from tests.collector.odata_support import PEOPLE, Person, load, profile_xml, read
from tests.support.pipeline import process_all
from tests.support.xlsform import PROFILE

LEAD = Actor("user", None, "lead@example.org", role="data-manager")


def instance(person: Person, instance_id: str, replaces: str | None = None) -> bytes:
    """Return a whole instance as pyodk sends it, without media (none would follow)."""
    deprecated = f"<deprecatedID>{replaces}</deprecatedID>" if replaces else ""
    fields = profile_xml(person).replace("doc.jpg", "").replace("x.jpg", "")
    return (
        f'<data id="profile" version="2026112301">{fields}'
        f"<meta><instanceID>{instance_id}</instanceID>{deprecated}</meta></data>"
    ).encode()


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def edited(sessions: sessionmaker[Session], kek: bytes) -> tuple[list[str], int]:
    """Two Collect submissions, the first edited over the API and the second approved, and a
    third sent over the API by a web user; returns the instanceIDs and that user's id."""
    _version, ids = load(sessions, kek, PROFILE, [profile_xml(p) for p in PEOPLE[:2]])
    secrets = vault.Secrets(kek)
    with transaction(sessions) as session:
        lead = users.create(session, "lead@example.org", "data-manager", None, "Field Lead")
        origin = submissions.Origin(Actor("user", lead.id, lead.email, lead.role))
        form = session.scalars(select(Form)).one()
        first = submissions.get_logical(session, form, ids[0])
        changed = Person(**{**PEOPLE[0].__dict__, "group_size": 9})
        submissions.edit(session, secrets, first, instance(changed, "uuid:edit-1", ids[0]), origin)
        second = submissions.get_logical(session, form, ids[1])
        submissions.set_review(session, second, "approved", actor=LEAD)
        submissions.create(session, secrets, form, instance(PEOPLE[2], "uuid:api-1"), origin)
    process_all(sessions, kek)
    return [*ids, "uuid:api-1"], lead.id


def test_an_edited_submission_is_one_row(
    sessions: sessionmaker[Session], edited: tuple[list[str], int]
) -> None:
    ids, lead = edited
    rows = read(sessions, "profile", args={"$expand": "*"})["value"]
    # Newest version first: the edit of the first submission is newer than the second.
    assert [r["__id"] for r in rows] == [ids[2], ids[0], ids[1]]
    by_id = {r["__id"]: r for r in rows}
    changed = by_id[ids[0]]
    assert changed["group_size"] == 9
    assert changed["meta"] == {"instanceID": "uuid:edit-1"}
    assert changed["__system"]["edits"] == 1
    assert changed["__system"]["reviewState"] == "edited"
    assert changed["household@odata.navigationLink"].startswith(
        f"Submissions('{ids[0].replace(':', '%3A')}')"
    )
    # Entry ids are keyed by the first instanceID, so an edit does not renumber them.
    stable = [row_id(f"{ids[0]}/household[{i}]") for i in (1, 2)]
    assert [h["__id"] for h in changed["household"]] == stable
    assert by_id[ids[1]]["__system"]["reviewState"] == "approved"
    assert by_id[ids[1]]["__system"]["edits"] == 0
    sent = by_id[ids[2]]["__system"]
    assert (sent["submitterId"], sent["submitterName"]) == (str(lead), "Field Lead")
    assert (sent["attachmentsExpected"], sent["attachmentsPresent"]) == (0, 0)
    household = read(sessions, "profile", "Submissions.household")["value"]
    assert {h["__Submissions-id"] for h in household} == {ids[0], ids[2]}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("__system/reviewState eq 'approved'", [1]),
        ("__system/reviewState eq 'edited'", [0]),
        ("__system/reviewState eq null", [2]),
        ("__system/edits gt 0", [0]),
        ("__id eq '{0}'", [0]),
        ("__id eq 'uuid:edit-1'", []),
        ("__system/submitterId eq {lead}", [2]),
        ("__system/submitterName eq 'Field Lead'", [2]),
    ],
)
def test_filters_see_logical_submissions(
    sessions: sessionmaker[Session],
    edited: tuple[list[str], int],
    expression: str,
    expected: list[int],
) -> None:
    ids, lead = edited
    page = read(sessions, "profile", args={"$filter": expression.format(*ids, lead=lead)})
    assert sorted(r["__id"] for r in page["value"]) == sorted(ids[i] for i in expected)


def test_a_submission_is_found_by_its_first_instance_id(
    sessions: sessionmaker[Session], edited: tuple[list[str], int]
) -> None:
    ids, _lead = edited
    [row] = read(sessions, "profile", f"Submissions('{ids[0]}')")["value"]
    assert row["group_size"] == 9
    members = read(sessions, "profile", f"Submissions('{ids[0]}')/household")["value"]
    assert len(members) == 2
    with pytest.raises(NotFound):
        read(sessions, "profile", "Submissions('uuid:edit-1')")
