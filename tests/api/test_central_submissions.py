"""Submissions over the REST API: sealed on arrival, processed like Collect's, edited, reviewed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from collector.models import Submission, SubmissionMedia, SubmissionRecord
from tests.api.conftest import Invoke
from tests.collector.rawdb import raw_database_bytes
from tests.support.central import SIMPLE, Central, chunked, simple_instance

NAME = "Zübeyde Karagöz-Işıkoğlu"
PLACE = "Yozgat crossing point"
COMMENT = "Spoke again with Zübeyde by phone"
PHOTO = b"\xff\xd8\xff planted jpeg bytes"


@pytest.fixture
def site(central: Central) -> tuple[Central, str, str]:
    project = central.project("Subs")
    form = central.publish(project, SIMPLE)
    _id, token = central.user("admin@example.org", "admin")
    return central, f"/v1/projects/{project}/forms/{form}", token


def post_xml(central: Central, token: str, url: str, xml: bytes, method: str = "POST") -> object:
    return central.api(token).request(method, url, data=xml, content_type="application/xml")


def record_of(central: Central, instance_id: str) -> dict[str, object]:
    with central.session() as session:
        sub = session.scalars(select(Submission).where(Submission.instance_id == instance_id)).one()
        return json.loads(session.get_one(SubmissionRecord, sub.id).data)


def test_a_submission_is_sealed_on_arrival_and_processed_pseudonymised(
    site: tuple[Central, str, str], database_url: str
) -> None:
    central, base, token = site
    xml = simple_instance("uuid:s1", place=PLACE, names=(NAME, "Ali"), photo="p.jpg")
    created = post_xml(central, token, f"{base}/submissions?deviceID=dev1", xml)
    assert created.status_code == 200, created.get_json()
    body = created.get_json()
    assert "attachments" not in body  # pyodk adds its own
    assert (body["instanceId"], body["deviceId"], body["status"]) == ("uuid:s1", "dev1", "received")
    assert isinstance(body["submitterId"], int)
    assert body["createdAt"].endswith("Z")
    listed = central.api(token).get(f"{base}/submissions/uuid%3As1/attachments").get_json()
    assert listed == [{"name": "p.jpg", "exists": False}]
    central.drain()  # waits for its photo: nothing to do yet
    assert (
        central.api(token).get(f"{base}/submissions/uuid%3As1").get_json()["status"] == "received"
    )
    upload = central.api(token).post(
        f"{base}/submissions/uuid%3As1/attachments/p.jpg",
        **chunked(PHOTO),
        content_type="image/jpeg",
    )
    assert upload.status_code == 200, upload.get_json()
    central.drain()
    got = central.api(token).get(f"{base}/submissions/uuid%3As1").get_json()
    assert got["status"] == "processed"
    assert got["failureReason"] is None
    record = record_of(central, "uuid:s1")
    rows = record["repeats"]["/data/people"]
    assert [r["position"] for r in rows] == [[1], [2]]
    assert all(isinstance(r["values"]["/data/people/name"], dict) for r in rows)  # a subject
    assert record["root"]["/data/place"] == PLACE
    assert record["media"] == ["p.jpg"]
    with central.session() as session:
        assert session.scalars(select(SubmissionMedia.size)).all() == [len(PHOTO)]
    raw = raw_database_bytes(central.instance.engine, database_url)
    for secret in (NAME.encode(), PHOTO, json.dumps(NAME).encode()):
        assert secret not in raw


def test_edits_keep_the_logical_submission_and_its_older_record(
    site: tuple[Central, str, str],
) -> None:
    central, base, token = site
    assert (
        post_xml(central, token, f"{base}/submissions", simple_instance("uuid:e1")).status_code
        == 200
    )
    central.drain()
    edit = simple_instance("uuid:e2", place="Edirne", deprecated="uuid:e1")
    response = post_xml(central, token, f"{base}/submissions/uuid%3Ae1", edit, "PUT")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["instanceId"] == "uuid:e1"
    assert body["reviewState"] == "edited"
    assert body["currentVersion"]["instanceId"] == "uuid:e2"
    central.drain()
    listed = central.api(token).get(f"{base}/submissions").get_json()
    assert [s["instanceId"] for s in listed] == ["uuid:e1"]
    assert listed[0]["status"] == "processed"
    assert record_of(central, "uuid:e1")["root"]["/data/place"] == "Kars"
    assert record_of(central, "uuid:e2")["root"]["/data/place"] == "Edirne"
    with central.session() as session:
        current = dict(session.execute(select(Submission.instance_id, Submission.current)).all())
    assert current == {"uuid:e1": False, "uuid:e2": True}
    stale = simple_instance("uuid:e3", deprecated="uuid:e1")
    conflict = post_xml(central, token, f"{base}/submissions/uuid%3Ae1", stale, "PUT")
    assert conflict.status_code == 409
    missing = post_xml(
        central, token, f"{base}/submissions/uuid%3Ae1", simple_instance("uuid:e4"), "PUT"
    )
    assert missing.status_code == 400
    assert missing.get_json()["code"] == 400.2


def test_review_states_and_sealed_comments(
    site: tuple[Central, str, str], database_url: str
) -> None:
    central, base, token = site
    post_xml(central, token, f"{base}/submissions", simple_instance("uuid:r1"))
    api = central.api(token)
    for state in ("hasIssues", "approved", "rejected", "received"):
        response = api.patch(f"{base}/submissions/uuid%3Ar1", json={"reviewState": state})
        assert response.status_code == 200
        assert response.get_json()["reviewState"] == (None if state == "received" else state)
    bad = api.patch(f"{base}/submissions/uuid%3Ar1", json={"reviewState": "lost"})
    assert bad.status_code == 400
    assert "reviewState" in bad.get_json()["details"]
    comment = api.post(f"{base}/submissions/uuid%3Ar1/comments", json={"body": COMMENT})
    assert comment.status_code == 200
    assert comment.get_json()["body"] == COMMENT
    assert isinstance(comment.get_json()["actorId"], int)
    assert [c["body"] for c in api.get(f"{base}/submissions/uuid%3Ar1/comments").get_json()] == [
        COMMENT
    ]
    empty = api.post(f"{base}/submissions/uuid%3Ar1/comments", json={"body": ""})
    assert empty.status_code == 400
    assert "submission.comment" in central.audit_actions()
    raw = raw_database_bytes(central.instance.engine, database_url)
    assert COMMENT.encode() not in raw
    assert "Zübeyde".encode() not in raw


def test_the_plaintext_xml_is_never_served(site: tuple[Central, str, str]) -> None:
    central, base, token = site
    post_xml(central, token, f"{base}/submissions", simple_instance("uuid:x1", place=PLACE))
    response = central.api(token).get(f"{base}/submissions/uuid%3Ax1.xml")
    assert response.status_code == 501
    problem = response.get_json()
    assert problem["code"] == 501.1
    assert "OData" in problem["message"]
    assert PLACE not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("case", "xml", "content_type", "code"),
    [
        (
            "another form",
            b'<data id="other"><meta><instanceID>uuid:b</instanceID></meta></data>',
            "application/xml",
            400.8,
        ),
        (
            "unpublished version",
            simple_instance("uuid:b").replace(b'version="1"', b'version="9"'),
            "application/xml",
            404.7,
        ),
        (
            "no instanceID",
            b'<data id="simple" version="1"><meta/></data>',
            "application/xml",
            400.2,
        ),
        ("not XML", b"<data", "application/xml", 400.1),
        ("a DTD", b'<!DOCTYPE x [<!ENTITY e "y">]><data id="simple"/>', "application/xml", 400.1),
        (
            "an edit posted",
            simple_instance("uuid:b", deprecated="uuid:a"),
            "application/xml",
            400.8,
        ),
        ("not XML typed", simple_instance("uuid:b"), "application/json", 415.1),
        ("empty", b"", "application/xml", 400.2),
    ],
)
def test_bad_submissions_are_refused_and_nothing_is_stored(
    site: tuple[Central, str, str], case: str, xml: bytes, content_type: str, code: float
) -> None:
    central, base, token = site
    before = central.counts()
    response = central.api(token).post(f"{base}/submissions", data=xml, content_type=content_type)
    assert response.status_code == int(code), (case, response.get_json())
    assert response.get_json()["code"] == code, case
    assert central.counts() == before, case


def test_duplicates_unexpected_files_and_closed_forms(site: tuple[Central, str, str]) -> None:
    central, base, token = site
    api = central.api(token)
    post_xml(central, token, f"{base}/submissions", simple_instance("uuid:d1", photo="a.jpg"))
    again = post_xml(central, token, f"{base}/submissions", simple_instance("uuid:d1"))
    assert again.status_code == 409
    assert again.get_json()["code"] == 409.3
    unexpected = api.post(f"{base}/submissions/uuid%3Ad1/attachments/b.jpg", data=b"x")
    assert unexpected.status_code == 404
    assert api.post(f"{base}/submissions/uuid%3Ad1/attachments/a.jpg", data=b"x").status_code == 200
    twice = api.post(f"{base}/submissions/uuid%3Ad1/attachments/a.jpg", data=b"x")
    assert twice.status_code == 409
    assert api.patch(base, json={"state": "closed"}).status_code == 200
    closed = post_xml(central, token, f"{base}/submissions", simple_instance("uuid:d2"))
    assert closed.status_code == 409
    assert closed.get_json()["code"] == 409.2


NAMED = """
| survey   |
|          | type | name      | label | pii        |
|          | text | place     | Place |            |
|          | text | full_name | Name  | identifier |
| settings |
|          | form_id | version | instance_name   |
|          | {form}  | 1       | {instance_name} |
"""


def named_instance(form: str, instance_id: str, place: str, deprecated: str = "") -> bytes:
    # Collect computes meta/instanceName on the tablet; here it is the place, or the name.
    name = place if form == "by_place" else NAME
    meta = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return (
        f'<data id="{form}" version="1"><place>{place}</place><full_name>{NAME}</full_name>'
        f"<meta>{meta}<instanceID>{instance_id}</instanceID><instanceName>{name}</instanceName>"
        "</meta></data>"
    ).encode()


def test_instance_names_are_listed_only_when_stored_in_plain_text(
    central: Central, database_url: str, cli: Invoke
) -> None:
    project = central.project("Named")
    by_place = central.publish(project, NAMED.format(form="by_place", instance_name="${place}"))
    by_name = central.publish(project, NAMED.format(form="by_name", instance_name="${full_name}"))
    _id, token = central.user("admin@example.org", "admin")
    api = central.api(token)
    for form, iid in ((by_place, "uuid:n1"), (by_name, "uuid:n2")):
        url = f"/v1/projects/{project}/forms/{form}/submissions"
        created = post_xml(central, token, url, named_instance(form, iid, PLACE))
        assert created.status_code == 200, created.get_json()
        assert created.get_json()["instanceName"] is None  # computed when processed
    central.drain()
    place_url = f"/v1/projects/{project}/forms/{by_place}/submissions"
    assert [s["instanceName"] for s in api.get(place_url).get_json()] == [PLACE]
    assert api.get(f"{place_url}/uuid%3An1").get_json()["instanceName"] == PLACE
    # A name computed from an identifier is sealed at rest, and a list does not open it.
    name_url = f"/v1/projects/{project}/forms/{by_name}/submissions"
    assert [s["instanceName"] for s in api.get(name_url).get_json()] == [None]
    assert api.get(f"{name_url}/uuid%3An2").get_json()["instanceName"] is None
    # An edit's name is the current version's.
    edit = named_instance(by_place, "uuid:n1b", "Van", deprecated="uuid:n1")
    assert post_xml(central, token, f"{place_url}/uuid%3An1", edit, "PUT").status_code == 200
    central.drain()
    assert [s["instanceName"] for s in api.get(place_url).get_json()] == ["Van"]
    # The CLI lists the same names: each version by its own id, the replaced one without.
    listed = cli("submissions", "list", "--project", str(project), "--json")
    assert listed.exit_code == 0, listed.output
    names = {row["instanceId"]: row["instanceName"] for row in json.loads(listed.output)}
    assert names == {"uuid:n1": None, "uuid:n1b": "Van", "uuid:n2": None}
    raw = raw_database_bytes(central.instance.engine, database_url)
    assert NAME.encode() not in raw
