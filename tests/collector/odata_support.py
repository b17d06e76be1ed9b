"""Data for the OData tests: two forms, planted people, and a reader that follows next links."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import odata, vault
from collector.audit import Actor
from collector.dataset import Viewer
from collector.db import transaction
from collector.models import Form, FormVersion, Subject
from tests.support.pipeline import process_all, publish, submit

SERVICE = "https://odata.test/v1/projects/1/forms/{form}.svc"
MANAGER = Actor("user", 2, "dm@example.org", role="data-manager")
ADMIN = Actor("user", 1, "admin@example.org", role="admin")
NOTES = "Private officer notes"

# Groups, a group inside a repeat, a repeat inside a repeat, names OData must sanitise, and
# types the profile form lacks (decimal, select, dateTime, geotrace).
NESTED = """
| survey   |
|          | type          | name       | label      | pii        | pii_rule |
|          | begin_group   | site-info  | Site       |            |          |
|          | decimal       | altitude   | Altitude   |            |          |
|          | geopoint      | spot       | Spot       |            |          |
|          | geotrace      | track      | Track      |            |          |
|          | end_group     |            |            |            |          |
|          | select_one yn | consent    | Consent    |            |          |
|          | dateTime      | visited_at | Visited    |            |          |
|          | begin_repeat  | household  | Household  |            |          |
|          | text          | head       | Head       | identifier | name     |
|          | begin_group   | details    | Details    |            |          |
|          | integer       | size       | Size       |            |          |
|          | end_group     |            |            |            |          |
|          | begin_repeat  | child      | Child      |            |          |
|          | text          | child_name | Child name | identifier | name     |
|          | integer       | child_age  | Child age  | quasi      | band:5   |
|          | end_repeat    |            |            |            |          |
|          | end_repeat    |            |            |            |          |
| choices  |
|          | list_name | name | label |
|          | yn        | yes  | Yes   |
|          | yn        | no   | No    |
| settings |
|          | form_id | version | form_title |
|          | nested  | 1       | Nested     |
"""


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    passport: str
    members: tuple[str, ...]
    group_size: int
    dob: str
    narrative: str


PEOPLE = [
    Person(
        "Ayşe Yılmaz",
        "+90 532 123 45 67",
        "U1234567",
        ("Ali Yılmaz", "Zeynep Yılmaz"),
        3,
        "1990-05-17",
        "Planted narrative one",
    ),
    Person(
        "Quentin Vandersloot",
        "+44 7700 900461",
        "QX4455667",
        (),
        1,
        "1984-02-01",
        "Planted narrative two",
    ),
    Person(
        "محمد الأحمد",
        "+963 944 123 456",
        "N0011223",
        ("فاطمة الأحمد",),
        2,
        "2001-12-31",
        "Planted narrative three",
    ),
]


def profile_xml(person: Person) -> str:
    """Return the fields of a PROFILE instance for a person."""
    household = "".join(
        f"<household><member_name>{m}</member_name><member_age>{7 + 30 * i}</member_age>"
        "</household>"
        for i, m in enumerate(person.members)
    )
    return (
        f"<full_name>{person.name}</full_name><phone>{person.phone}</phone>"
        f"<passport_no>{person.passport}</passport_no><dob>{person.dob}</dob>"
        "<location>41.0082376 28.9783589 35 4</location>"
        f"<narrative>{person.narrative}</narrative><officer_notes>{NOTES}</officer_notes>"
        f"<group_size>{person.group_size}</group_size>{household}"
        "<document_photo>doc.jpg</document_photo><scratch_photo>x.jpg</scratch_photo>"
    )


def nested_xml(heads: list[tuple[str, list[tuple[str, int]]]]) -> str:
    """Return the fields of a NESTED instance: households with their children."""
    households = "".join(
        f"<household><head>{head}</head><details><size>{len(children) + 1}</size></details>"
        + "".join(
            f"<child><child_name>{n}</child_name><child_age>{a}</child_age></child>"
            for n, a in children
        )
        + "</household>"
        for head, children in heads
    )
    return (
        "<site-info><altitude>812.5</altitude><spot>39.92 32.85 850 5</spot>"
        "<track>39.9 32.8 0 1;39.91 32.81 0 1</track></site-info><consent>yes</consent>"
        f"<visited_at>2026-05-01T10:00:00.000+03:00</visited_at>{households}"
    )


def load(
    sessions: sessionmaker[Session], kek: bytes, md: str, instances: list[str]
) -> tuple[FormVersion, list[str]]:
    """Publish a form, push instances through the real pipeline; return the instanceIDs."""
    with transaction(sessions) as session:
        version = publish(session, kek, md)
    with sessions() as session:
        ids = [submit(session, version, values) for values in instances]
    process_all(sessions, kek)
    return version, ids


def manager() -> Viewer:
    """A data manager's view: pseudonyms, no sensitive values, no secrets at hand."""
    return Viewer()


def admin(kek: bytes) -> Viewer:
    """An admin's view: sensitive values opened, still no originals of identifiers."""
    return Viewer(vault.Secrets(kek), sensitive=True)


def read(
    sessions: sessionmaker[Session],
    form_id: str,
    path: str = "Submissions",
    args: dict[str, str] | None = None,
    *,
    viewer: Viewer | None = None,
    page_size: int | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Read one page of a table as the API does."""
    with sessions() as session:
        form = session.scalars(select(Form).where(Form.xml_form_id == form_id)).one()
        body = odata.read(
            session,
            form,
            path,
            args or {},
            viewer=viewer or manager(),
            service_url=SERVICE.format(form=form_id),
            page_size=page_size,
            actor=actor,
        )
        found: dict[str, Any] = json.loads("".join(body))
        return found


def read_all(
    sessions: sessionmaker[Session], form_id: str, path: str, args: dict[str, str], **kw: Any
) -> tuple[list[dict[str, Any]], int]:
    """Follow @odata.nextLink to the end; return every row and the number of pages."""
    rows, pages = [], 0
    while True:
        page = read(sessions, form_id, path, args, **kw)
        rows += page["value"]
        pages += 1
        link = page.get("@odata.nextLink")
        if link is None:
            return rows, pages
        parts = urlsplit(link)
        path = parts.path.split(".svc/", 1)[1]
        args = dict(parse_qsl(parts.query))
        assert pages < 100


def pseudonyms(sessions: sessionmaker[Session]) -> set[str]:
    """Return every pseudonym the vault holds."""
    with sessions() as session:
        return set(session.scalars(select(Subject.pseudonym)))


def planted(person: Person) -> list[str]:
    """Return the values of a person that must never appear in OData output."""
    return [
        person.name,
        person.phone,
        person.passport,
        *person.members,
        person.narrative,
        person.dob,
        NOTES,
    ]
