"""OData on pseudonymised records: the data model, row shapes, selection, expansion, resources."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from collector import dataset
from collector.db import session_factory
from collector.errors import NotFound
from collector.models import (
    AuditEntry,
    Form,
    FormVersion,
    Submission,
    SubmissionPart,
    SubmissionRecord,
)
from collector.odata import edm, values
from collector.odata.errors import PropertyNotFound, UnsupportedSelect
from forms.build import build_xform
from tests.collector.odata_support import (
    ADMIN,
    MANAGER,
    NESTED,
    PEOPLE,
    admin,
    load,
    nested_xml,
    planted,
    profile_xml,
    pseudonyms,
    read,
)
from tests.support.pipeline import process_all, submit
from tests.support.xlsform import PROFILE, md_to_xlsx

NS = {"edmx": edm.EDMX, "edm": edm.EDM}
SYSTEM_KEYS = [
    "submissionDate", "updatedAt", "submitterId", "submitterName", "attachmentsPresent",
    "attachmentsExpected", "status", "reviewState", "deviceId", "edits", "formVersion",
    "deletedAt",
]  # fmt: skip
HEX40 = re.compile(r"^[0-9a-f]{40}$")


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def profiles(sessions: sessionmaker[Session], kek: bytes) -> list[str]:
    return load(sessions, kek, PROFILE, [profile_xml(p) for p in PEOPLE])[1]


@pytest.fixture
def nested(sessions: sessionmaker[Session], kek: bytes) -> list[str]:
    instances = [
        nested_xml([("Hasan Demir", [("Elif", 4), ("Mert", 12)]), ("Leyla Demir", [])]),
        nested_xml([("Yusuf Kaya", [("Ada", 2)])]),
    ]
    return load(sessions, kek, NESTED, instances)[1]


def schema_of(md: str) -> edm.Schema:
    model = build_xform(md_to_xlsx(md)).model
    assert model is not None
    return edm.schema_for(model)


def csdl(md: str) -> ET.Element:
    document = edm.metadata_xml(schema_of(md))
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root: ET.Element = defusedxml.ElementTree.fromstring(document)
    return root


def properties(root: ET.Element, kind: str, name: str) -> dict[str, str]:
    [element] = [e for e in root.iterfind(f".//edm:{kind}", NS) if e.get("Name") == name]
    return {
        p.get("Name", ""): p.get("Type", "")
        for p in element
        if p.tag in (f"{{{edm.EDM}}}Property", f"{{{edm.EDM}}}NavigationProperty")
    }


def test_metadata_types_follow_the_stored_values() -> None:
    root = csdl(PROFILE)
    assert root.tag == f"{{{edm.EDMX}}}Edmx"
    assert root.get("Version") == "4.0"
    assert properties(root, "EntityType", "Submissions") == {
        "__id": "Edm.String",
        "__system": "org.opendatakit.submission.metadata",
        "full_name": "Edm.String",  # a pseudonym token
        "phone": "Edm.String",
        "passport_no": "Edm.String",
        "dob": "Edm.String",  # generalised to a year
        "location": "Edm.GeographyPoint",  # rounded, still a point
        "narrative": "Edm.String",
        "group_size": "Edm.Int64",
        "household": "Collection(org.opendatakit.user.profile.Submissions.household)",
        "document_photo": "Edm.String",
        "meta": "org.opendatakit.user.profile.meta",
    }
    assert properties(root, "EntityType", "Submissions.household") == {
        "__id": "Edm.String",
        "__Submissions-id": "Edm.String",
        "member_name": "Edm.String",
        "member_age": "Edm.String",  # a band such as "5-9"
    }
    assert list(properties(root, "ComplexType", "metadata")) == [
        "submissionDate", "updatedAt", "deletedAt", "submitterId", "submitterName",
        "attachmentsPresent", "attachmentsExpected", "status", "reviewState", "deviceId",
        "edits", "formVersion",
    ]  # fmt: skip
    sets = {e.get("Name"): e.get("EntityType") for e in root.iterfind(".//edm:EntitySet", NS)}
    assert sets == {
        "Submissions": "org.opendatakit.user.profile.Submissions",
        "Submissions.household": "org.opendatakit.user.profile.Submissions.household",
    }


def test_metadata_of_groups_nested_repeats_and_odd_names() -> None:
    root = csdl(NESTED)
    submissions = properties(root, "EntityType", "Submissions")
    assert submissions["site_info"] == "org.opendatakit.user.nested.site_info"
    assert submissions["consent"] == "Edm.String"
    assert submissions["visited_at"] == "Edm.DateTimeOffset"
    assert properties(root, "ComplexType", "site_info") == {
        "altitude": "Edm.Decimal",
        "spot": "Edm.GeographyPoint",
        "track": "Edm.GeographyLineString",
    }
    household = properties(root, "EntityType", "Submissions.household")
    assert household == {
        "__id": "Edm.String",
        "__Submissions-id": "Edm.String",
        "head": "Edm.String",
        "details": "org.opendatakit.user.nested.household.details",
        "child": "Collection(org.opendatakit.user.nested.Submissions.household.child)",
    }
    child = properties(root, "EntityType", "Submissions.household.child")
    assert child["__Submissions-household-id"] == "Edm.String"
    bindings = {
        (b.get("Path"), b.get("Target"))
        for b in root.iterfind(".//edm:NavigationPropertyBinding", NS)
    }
    assert bindings == {
        ("household", "Submissions.household"),
        ("child", "Submissions.household.child"),
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [("plain_name", "plain_name"), ("site-info", "site_info"), ("a.b", "a_b"),
     ("1st", "_1st"), ("çay", "__ay"), ("Mixed", "Mixed")],
)  # fmt: skip
def test_names_are_sanitised_as_central_does(name: str, expected: str) -> None:
    assert edm.sanitise(name) == expected


def test_service_document_lists_every_table() -> None:
    schema = schema_of(NESTED)
    assert edm.service_document(schema, "https://x/v1/projects/1/forms/nested.svc") == {
        "@odata.context": "https://x/v1/projects/1/forms/nested.svc/$metadata",
        "value": [
            {"name": n, "kind": "EntitySet", "url": n}
            for n in ("Submissions", "Submissions.household", "Submissions.household.child")
        ],
    }


def test_root_rows_are_pseudonymised(sessions: sessionmaker[Session], profiles: list[str]) -> None:
    page = read(sessions, "profile")
    assert page["@odata.context"].endswith("/forms/profile.svc/$metadata#Submissions")
    assert "@odata.nextLink" not in page
    assert "@odata.count" not in page
    rows = page["value"]
    assert [r["__id"] for r in rows] == profiles[::-1]  # Newest first, as Central.
    first = rows[-1]
    assert list(first["__system"]) == SYSTEM_KEYS
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["__system"]["submissionDate"]
    )
    assert first["__system"]["formVersion"] == "2026112301"
    tokens = pseudonyms(sessions)
    assert {r[f] for r in rows for f in ("full_name", "phone", "passport_no")} <= tokens
    assert first["dob"] == "1990"
    assert first["location"] == {"type": "Point", "coordinates": [28.98, 41.01]}
    assert first["narrative"] is None  # Withheld from a data manager.
    assert first["group_size"] == 3
    assert first["document_photo"] is None
    assert first["meta"] == {"instanceID": profiles[0]}
    assert first["household@odata.navigationLink"] == (
        f"Submissions('{profiles[0].replace(':', '%3A')}')/household"
    )
    assert "officer_notes" not in first
    assert "scratch_photo" not in first
    text = json.dumps(page, ensure_ascii=False)
    assert [v for p in PEOPLE for v in planted(p) if v in text] == []


def test_sensitive_values_open_for_admins_only_and_are_audited(
    sessions: sessionmaker[Session], kek: bytes, profiles: list[str]
) -> None:
    rows = read(sessions, "profile", viewer=admin(kek), actor=ADMIN)["value"]
    assert [r["narrative"] for r in rows] == [p.narrative for p in reversed(PEOPLE)]
    assert rows[-1]["document_photo"] == "doc.jpg"
    assert {r["full_name"] for r in rows} <= pseudonyms(sessions)
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "odata.sensitive"))
        assert [(e.actor_id, e.subject) for e in entries] == [(ADMIN.id, "profile")]
    read(sessions, "profile", actor=MANAGER)
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "odata.sensitive"))
        assert len(list(entries)) == 1


def test_repeat_table_rows(sessions: sessionmaker[Session], profiles: list[str]) -> None:
    page = read(sessions, "profile", "Submissions.household", {"$count": "True"})
    rows = page["value"]
    assert page["@odata.count"] == 3
    assert page["@odata.context"].endswith("$metadata#Submissions.household")
    assert [r["__Submissions-id"] for r in rows] == [profiles[2], profiles[0], profiles[0]]
    assert [r["member_age"] for r in rows] == ["5-9", "5-9", "35-39"]
    assert all(HEX40.match(r["__id"]) for r in rows)
    assert len({r["__id"] for r in rows}) == 3
    assert {r["member_name"] for r in rows} <= pseudonyms(sessions)
    assert set(rows[0]) == {"__id", "__Submissions-id", "member_name", "member_age"}


def test_expand_nests_the_same_rows(sessions: sessionmaker[Session], profiles: list[str]) -> None:
    expanded = read(sessions, "profile", args={"$expand": "*"})["value"]
    table = read(sessions, "profile", "Submissions.household")["value"]
    nested_rows = [r for row in expanded for r in row["household"]]
    assert [r["__id"] for r in nested_rows] == [r["__id"] for r in table]
    assert [r["member_name"] for r in nested_rows] == [r["member_name"] for r in table]
    assert expanded[1]["household"] == []
    assert "__Submissions-id" not in nested_rows[0]


def test_nested_groups_repeats_and_types(
    sessions: sessionmaker[Session], nested: list[str]
) -> None:
    [_, first] = read(sessions, "nested", args={"$expand": "*"})["value"]
    assert first["site_info"] == {
        "altitude": 812.5,
        "spot": {
            "type": "Point",
            "coordinates": [32.85, 39.92, 850],
            "properties": {"accuracy": 5},
        },
        "track": {
            "type": "LineString",
            "coordinates": [[32.8, 39.9, 0], [32.81, 39.91, 0]],
            "properties": {"accuracies": [1, 1]},
        },
    }
    assert first["consent"] == "yes"
    assert first["visited_at"] == "2026-05-01T10:00:00.000+03:00"
    [hasan, leyla] = first["household"]
    assert hasan["details"] == {"size": 3}
    assert [c["child_age"] for c in hasan["child"]] == ["0-4", "10-14"]
    assert leyla["child"] == []
    link = f"Submissions('{nested[0].replace(':', '%3A')}')/household('{hasan['__id']}')/child"
    assert hasan["child@odata.navigationLink"] == link
    children = read(sessions, "nested", "Submissions.household.child")["value"]
    households = read(sessions, "nested", "Submissions.household")["value"]
    assert [h["__id"] for h in households[1:]] == [hasan["__id"], leyla["__id"]]
    # Newest submission first; within one, rows in document order.
    expected = [households[0]["__id"]] + [hasan["__id"]] * 2
    assert [c["__Submissions-household-id"] for c in children] == expected
    wkt = read(sessions, "nested", args={"$wkt": "true"})["value"][-1]["site_info"]
    assert wkt["spot"] == "POINT (32.85 39.92 850)"
    assert wkt["track"] == "LINESTRING (32.8 39.9 0,32.81 39.91 0)"


def test_navigation_links_resolve(sessions: sessionmaker[Session], nested: list[str]) -> None:
    [_, first] = read(sessions, "nested", args={"$expand": "*"})["value"]
    households = read(sessions, "nested", f"Submissions('{nested[0]}')/household")["value"]
    assert [h["__id"] for h in households] == [h["__id"] for h in first["household"]]
    hasan = first["household"][0]
    path = f"Submissions('{nested[0]}')/household('{hasan['__id']}')/child"
    children = read(sessions, "nested", path)["value"]
    assert [c["__id"] for c in children] == [c["__id"] for c in hasan["child"]]
    single = read(sessions, "nested", f"Submissions('{nested[1]}')")
    assert [r["__id"] for r in single["value"]] == [nested[1]]
    for missing in (
        "Submissions('uuid:nope')",
        "Submissions.nope",
        "Nope",
        "Submissions.site_info",
    ):
        with pytest.raises(NotFound):
            read(sessions, "nested", missing)


def test_select(sessions: sessionmaker[Session], profiles: list[str]) -> None:
    args = {"$select": "__id,dob,__system/submitterId,meta/instanceID,household"}
    row = read(sessions, "profile", args=args)["value"][-1]
    assert row == {
        "__id": profiles[0],
        "__system": {"submitterId": None},
        "dob": "1990",
        "meta": {"instanceID": profiles[0]},
        "household@odata.navigationLink": f"Submissions('{profiles[0].replace(':', '%3A')}')"
        "/household",
    }
    assert set(read(sessions, "profile", args={"$select": "__system"})["value"][0]) == {
        "__id",
        "__system",
    }
    people = read(sessions, "profile", "Submissions.household", {"$select": "__id,member_age"})
    assert set(people["value"][0]) == {"__id", "member_age"}
    with_parent = read(
        sessions, "profile", "Submissions.household", {"$select": "__Submissions-id"}
    )
    assert set(with_parent["value"][0]) == {"__id", "__Submissions-id"}


@pytest.mark.parametrize(
    ("table", "select", "problem"),
    [
        ("Submissions", "household/member_name", UnsupportedSelect),
        ("Submissions", "nope", PropertyNotFound),
        ("Submissions", "__system/nope", PropertyNotFound),
        ("Submissions.household", "__system", PropertyNotFound),
        ("Submissions.household", "full_name", PropertyNotFound),
    ],
)
def test_select_refuses_what_is_not_there(
    sessions: sessionmaker[Session],
    profiles: list[str],
    table: str,
    select: str,
    problem: type[Exception],
) -> None:
    with pytest.raises(problem) as raised:
        read(sessions, "profile", table, {"$select": select})
    assert raised.value.code == problem.code  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("edm_type", "text", "wkt", "expected"),
    [
        ("Edm.Int64", "42", False, 42),
        ("Edm.Int64", "30-34", False, None),
        ("Edm.Decimal", "3.25", False, 3.25),
        ("Edm.Decimal", "nan", False, None),
        ("Edm.Boolean", "true", False, True),
        ("Edm.String", "", False, None),
        (
            "Edm.GeographyPoint",
            "41.01 28.98",
            False,
            {"type": "Point", "coordinates": [28.98, 41.01]},
        ),
        ("Edm.GeographyPoint", "41.01 28.98", True, "POINT (28.98 41.01)"),
        ("Edm.GeographyPoint", "41.01", False, None),
        ("Edm.GeographyPolygon", "1 2;3 4;1 2", True, "POLYGON ((2 1,4 3,2 1))"),
    ],
)
def test_values_are_typed(edm_type: str, text: str, wkt: bool, expected: object) -> None:
    assert values.convert(edm_type, text, wkt=wkt) == expected


def test_a_form_without_a_published_version_has_no_tables(
    sessions: sessionmaker[Session], profiles: list[str]
) -> None:
    with sessions() as session:
        session.execute(update(FormVersion).values(published_at=None))
        session.commit()
    with pytest.raises(NotFound):
        read(sessions, "profile")


def test_pending_submissions_interleave_in_submission_order(
    sessions: sessionmaker[Session], kek: bytes
) -> None:
    """Submissions not decrypted are read by a walk of their own, merged with the processed
    walk by id: batches that cross both keep the order, and nothing is lost or repeated."""
    version, (first,) = load(sessions, kek, PROFILE, [profile_xml(PEOPLE[0])])
    with sessions() as session:
        tampered = submit(session, version, profile_xml(PEOPLE[1]))
        session.execute(
            update(SubmissionPart)
            .where(
                SubmissionPart.submission_id
                == select(Submission.id)
                .where(Submission.instance_id == tampered)
                .scalar_subquery(),
                SubmissionPart.name == "submission.xml.enc",
            )
            .values(data=b"\x00" * 64)
        )
        session.commit()
    process_all(sessions, kek)
    with sessions() as session:
        photo = [("photo.jpg", b"\xff\xd8 not a photo")]
        split = submit(
            session, version, profile_xml(PEOPLE[2]), media=photo, only=["photo.jpg.enc"]
        )
        later = submit(session, version, profile_xml(PEOPLE[0]))
        session.commit()
    process_all(sessions, kek)
    with sessions() as session:
        waiting = submit(session, version, profile_xml(PEOPLE[1]))
        session.commit()
    order = [waiting, later, split, tampered, first]
    with sessions() as session:
        states = dict(session.execute(select(Submission.instance_id, Submission.state)).all())
        assert [states[i] for i in order] == [
            "received", "processed", "received", "failed", "processed",
        ]  # fmt: skip
        form = session.get_one(Form, version.form_id)
        ids = {sub.instance_id: sub.id for sub in session.scalars(select(Submission))}

        def walked(**options: Any) -> list[str]:
            found = dataset.entries(session, form, batch=2, **options)
            return [entry.submission.instance_id for chunk in found for entry in chunk]

        assert walked(newest_first=True, pending=True) == order
        assert walked(pending=True) == order[::-1]
        assert walked(newest_first=True, pending=True, after_id=ids[later]) == order[2:]
        assert walked(newest_first=True, pending=True, limit=3) == order[:3]
        assert walked(newest_first=True) == [later, first]
    rows = read(sessions, "profile", args={"$top": "2"})
    assert [r["__id"] for r in rows["value"]] == order[:2]
    statuses = [r["__system"]["status"] for r in read(sessions, "profile")["value"]]
    assert statuses == [
        "notDecrypted", None, "missingEncryptedFormData", "notDecrypted", None,
    ]  # fmt: skip


def test_rows_render_subjects_the_text_scan_could_not_see(
    sessions: sessionmaker[Session], profiles: list[str]
) -> None:
    # A batch's subjects are found in the records' text before they are decoded; a record
    # stored without spaces after its separators hides them from that scan, and each is then
    # looked up as its row is made: the feed is the same.
    before = read(sessions, "profile", args={"$expand": "*"})["value"]
    with sessions.begin() as session:
        for record in session.scalars(select(SubmissionRecord)):
            record.data = json.dumps(json.loads(record.data), separators=(",", ":"))
    after = read(sessions, "profile", args={"$expand": "*"})["value"]
    assert after == before
    assert {r["full_name"] for r in after} <= pseudonyms(sessions)
