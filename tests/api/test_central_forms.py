"""Forms over the REST API: XLSForm and XForm uploads keyed for the project, drafts, publish."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from sqlalchemy import select

from collector import rotation
from collector.models import FormVersion, KeyGeneration
from tests.collector.rawdb import raw_database_bytes
from tests.support.central import SIMPLE, Central, chunked
from tests.support.xlsform import FIELD_VISIT, HH_REGISTRATION, HH_VISIT, md_to_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KEY = re.compile(rb'base64RsaPublicKey="([^"]+)"')
XFORM = (
    '<?xml version="1.0"?>\n<h:html xmlns="http://www.w3.org/2002/xforms" '
    'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa">'
    "<h:head><h:title>Water point</h:title><model>"
    '<submission action="https://elsewhere.example/submit" method="post"/>'
    '<instance><data id="water" version="3"><well/><meta><instanceID/></meta></data></instance>'
    '<instance id="pumps" src="jr://file-csv/pumps.csv"/>'
    '<bind nodeset="/data/well" type="string"/>'
    '<bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>'
    '</model></h:head><h:body><input ref="/data/well"><label>Well</label></input></h:body>'
    "</h:html>"
)


@pytest.fixture
def setup(central: Central) -> tuple[Central, int, str]:
    project = central.project("Forms")
    _id, token = central.user("admin@example.org", "admin")
    return central, project, token


def active_key(central: Central, project: int) -> bytes:
    with central.session() as session:
        row = session.scalars(
            select(KeyGeneration).where(
                KeyGeneration.project_id == project, KeyGeneration.state == "active"
            )
        ).one()
        return base64.b64encode(row.public_key_der)


def test_xlsform_upload_makes_a_draft_keyed_for_the_project(
    setup: tuple[Central, int, str],
) -> None:
    central, project, token = setup
    api = central.api(token)
    response = api.post(
        f"/v1/projects/{project}/forms?ignoreWarnings=True&publish=False",
        data=md_to_xlsx(FIELD_VISIT),
        content_type=XLSX,
        headers={"X-XlsForm-FormId-Fallback": "field%20visit"},
    )
    assert response.status_code == 200, response.get_json()
    form = response.get_json()
    assert form["xmlFormId"] == "field_visit"
    assert form["publishedAt"] is None
    assert form["version"] == "2026112301"
    assert form["enketoId"] is None
    assert form["keyId"] is not None
    assert form["state"] == "open"
    # Not published yet: nothing to serve, but the draft is there.
    assert api.get(f"/v1/projects/{project}/forms/field_visit.xml").status_code == 404
    draft = api.get(f"/v1/projects/{project}/forms/field_visit/draft.xml").data
    assert KEY.search(draft).group(1) == active_key(central, project)
    assert api.post(f"/v1/projects/{project}/forms/field_visit/draft/publish").status_code == 200
    served = api.get(f"/v1/projects/{project}/forms/field_visit.xml")
    assert served.data == draft
    published = api.get(f"/v1/projects/{project}/forms/field_visit").get_json()
    assert published["hash"] == hashlib.md5(served.data).hexdigest()
    assert published["publishedAt"] is not None


def test_xform_upload_gets_the_key_and_loses_any_action(setup: tuple[Central, int, str]) -> None:
    central, project, token = setup
    api = central.api(token)
    response = api.post(
        f"/v1/projects/{project}/forms?publish=true",
        data=XFORM.encode(),
        content_type="application/xml",
        headers={"X-XlsForm-FormId-Fallback": "ignored"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["xmlFormId"] == "water"
    served = api.get(f"/v1/projects/{project}/forms/water.xml").data
    key = active_key(central, project).decode()
    assert b"elsewhere.example" not in served
    expected = XFORM.replace(
        '<submission action="https://elsewhere.example/submit" method="post"/>',
        f'<submission method="post" base64RsaPublicKey="{key}"/>',
    ).encode()
    assert served == expected  # the rest of the document byte for byte
    attachments = api.get(f"/v1/projects/{project}/forms/water/attachments").get_json()
    assert attachments == [
        {
            "name": "pumps.csv",
            "type": "file",
            "hash": None,
            "exists": False,
            "blobExists": False,
            "datasetExists": False,
            "updatedAt": None,
        }
    ]


def test_draft_attachments_and_publish_under_a_new_version(
    setup: tuple[Central, int, str],
) -> None:
    central, project, token = setup
    form = central.publish(project, SIMPLE)
    api = central.api(token)
    base = f"/v1/projects/{project}/forms/{form}"
    assert api.post(f"{base}/draft", headers={"Content-Length": "0"}).status_code == 200
    upload = api.post(
        f"{base}/draft/attachments/fruits.csv",
        **chunked(b"name\napple\n"),
        content_type="text/csv",
    )
    assert upload.status_code == 200, upload.get_json()
    unknown = api.post(f"{base}/draft/attachments/other.csv", data=b"x", content_type="text/csv")
    assert unknown.status_code == 404
    listed = api.get(f"{base}/draft/attachments").get_json()
    assert listed[0]["exists"]
    assert listed[0]["hash"] == hashlib.md5(b"name\napple\n").hexdigest()
    conflict = api.post(f"{base}/draft/publish")
    assert conflict.status_code == 409
    assert conflict.get_json()["code"] == 409.6
    assert (
        api.post(f"{base}/draft/publish?version=2026-11-23T19%3A15%3A24.366572").status_code == 200
    )
    served = api.get(f"{base}.xml").data
    assert b'version="2026-11-23T19:15:24.366572"' in served
    versions = api.get(f"{base}/versions").get_json()
    assert [v["version"] for v in versions] == ["2026-11-23T19:15:24.366572", "1"]
    assert api.get(f"{base}/draft").status_code == 404
    # The next draft carries the uploaded file over.
    assert api.post(f"{base}/draft").status_code == 200
    assert api.get(f"{base}/draft/attachments").get_json()[0]["exists"] is True
    assert api.delete(f"{base}/draft").status_code == 200


def test_a_draft_made_before_a_rotation_is_published_with_the_new_key(
    setup: tuple[Central, int, str],
) -> None:
    central, project, token = setup
    api = central.api(token)
    created = api.post(
        f"/v1/projects/{project}/forms", data=XFORM.encode(), content_type="text/xml"
    )
    assert created.status_code == 200
    with central.session() as session, session.begin():
        rotation.rotate_project(session, project, central.kek, bits=2048)
    assert api.post(f"/v1/projects/{project}/forms/water/draft/publish").status_code == 200
    served = api.get(f"/v1/projects/{project}/forms/water.xml").data
    assert KEY.search(served).group(1) == active_key(central, project)
    form = api.get(f"/v1/projects/{project}/forms/water").get_json()
    with central.session() as session:
        version = session.scalars(select(FormVersion).where(FormVersion.md5 == form["hash"])).one()
        assert version.xml == served
        assert form["keyId"] == version.key_generation_id


def test_a_new_definition_as_draft_must_be_of_the_same_form(
    setup: tuple[Central, int, str],
) -> None:
    central, project, token = setup
    form = central.publish(project, SIMPLE)
    api = central.api(token)
    other = api.post(
        f"/v1/projects/{project}/forms/{form}/draft?ignoreWarnings=True",
        data=XFORM.encode(),
        content_type="application/xml",
    )
    assert other.status_code == 400
    assert other.get_json()["code"] == 400.8
    same = XFORM.replace('id="water" version="3"', 'id="simple" version="2"').encode()
    ok = api.post(
        f"/v1/projects/{project}/forms/{form}/draft", data=same, content_type="application/xml"
    )
    assert ok.status_code == 200
    assert api.get(f"/v1/projects/{project}/forms/{form}/draft").get_json()["version"] == "2"


@pytest.mark.parametrize(
    ("case", "body", "content_type", "query", "code"),
    [
        ("not a workbook", b"PK\x03\x04nonsense", XLSX, "", 400.15),
        ("not XML", b"<h:html", "application/xml", "", 400.15),
        ("no model", b'<h:html xmlns:h="x"><h:head/></h:html>', "application/xml", "", 400.15),
        ("empty", b"", "application/xml", "", 400.2),
        ("unknown type", b"{}", "application/json", "", 415.1),
        ("warnings not ignored", md_to_xlsx(SIMPLE), XLSX, "?ignoreWarnings=false", 400.16),
        ("bad boolean", md_to_xlsx(SIMPLE), XLSX, "?publish=maybe", 400.11),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_stored(
    setup: tuple[Central, int, str],
    case: str,
    body: bytes,
    content_type: str,
    query: str,
    code: float,
) -> None:
    central, project, token = setup
    before = central.counts()
    response = central.api(token).post(
        f"/v1/projects/{project}/forms{query}", data=body, content_type=content_type
    )
    assert response.status_code == int(code), (case, response.get_json())
    assert response.get_json()["code"] == code, case
    assert central.counts() == before, case


def test_duplicate_form_ids_and_closed_forms(setup: tuple[Central, int, str]) -> None:
    central, project, token = setup
    api = central.api(token)
    assert (
        api.post(
            f"/v1/projects/{project}/forms", data=XFORM.encode(), content_type="text/xml"
        ).status_code
        == 200
    )
    again = api.post(f"/v1/projects/{project}/forms", data=XFORM.encode(), content_type="text/xml")
    assert again.status_code == 409
    assert again.get_json()["code"] == 409.3
    closed = api.patch(f"/v1/projects/{project}/forms/water", json={"state": "closed"})
    assert closed.status_code == 200
    assert closed.get_json()["state"] == "closed"
    bad = api.patch(f"/v1/projects/{project}/forms/water", json={"state": "gone"})
    assert bad.status_code == 400
    assert "state" in bad.get_json()["details"]


def test_an_uploaded_xform_takes_submissions(setup: tuple[Central, int, str]) -> None:
    central, project, token = setup
    api = central.api(token)
    url = f"/v1/projects/{project}/forms"
    assert (
        api.post(f"{url}?publish=true", data=XFORM.encode(), content_type="text/xml").status_code
        == 200
    )
    instance = (
        b'<data id="water" version="3"><well>W1</well>'
        b"<meta><instanceID>uuid:w1</instanceID></meta></data>"
    )
    created = api.post(f"{url}/water/submissions", data=instance, content_type="application/xml")
    assert created.status_code == 200, created.get_json()
    central.drain()
    assert api.get(f"{url}/water/submissions/uuid%3Aw1").get_json()["status"] == "processed"


def test_a_rotation_carries_the_form_attachments_over(setup: tuple[Central, int, str]) -> None:
    central, project, token = setup
    form = central.publish(project, SIMPLE)
    api = central.api(token)
    base = f"/v1/projects/{project}/forms/{form}"
    assert api.post(f"{base}/draft").status_code == 200
    api.post(f"{base}/draft/attachments/fruits.csv", data=b"name\nfig\n", content_type="text/csv")
    assert api.post(f"{base}/draft/publish?version=2").status_code == 200
    with central.session() as session, session.begin():
        rotation.rotate_project(session, project, central.kek, bits=2048)
    assert api.get(base).get_json()["version"] == "2-k2"
    [attachment] = api.get(f"{base}/attachments").get_json()
    assert attachment["exists"] is True
    assert attachment["hash"] == hashlib.md5(b"name\nfig\n").hexdigest()


def test_form_attachments_are_sealed_at_rest_and_served_as_uploaded(
    setup: tuple[Central, int, str], database_url: str
) -> None:
    """A data file for select_one_from_file can list the people a project follows up."""
    central, project, token = setup
    form = central.publish(project, SIMPLE)
    api = central.api(token)
    base = f"/v1/projects/{project}/forms/{form}"
    people = "name,label\nzk,Zübeyde Karagöz-Işıkoğlu\n".encode()
    assert api.post(f"{base}/draft").status_code == 200
    upload = api.post(f"{base}/draft/attachments/fruits.csv", data=people, content_type="text/csv")
    assert upload.status_code == 200
    assert api.post(f"{base}/draft/publish?version=2").status_code == 200
    # A rotation republishes the form and carries the sealed file over as it is.
    with central.session() as session, session.begin():
        rotation.rotate_project(session, project, central.kek, bits=2048)
    _app_id, app_token = central.app_user(project, "Tablet", forms=(form,))
    openrosa = f"/v1/key/{app_token}/projects/{project}/forms/{form}"
    manifest = api.get(f"{openrosa}/manifest")
    assert manifest.status_code == 200
    assert f"md5:{hashlib.md5(people).hexdigest()}".encode() in manifest.data
    served = api.get(f"{openrosa}/attachments/fruits.csv")
    assert (served.status_code, served.data) == (200, people)
    raw = raw_database_bytes(central.instance.engine, database_url)
    for planted in ("Zübeyde", "Karagöz", "Işıkoğlu"):
        assert planted.encode() not in raw


def test_publishing_a_form_with_entities_declares_its_list(
    setup: tuple[Central, int, str],
) -> None:
    """As Central does: the list and its properties appear when the form is published, and a
    later form adds the properties it saves to."""
    central, project, token = setup
    api = central.api(token)
    forms_url = f"/v1/projects/{project}/forms"
    draft = api.post(
        f"{forms_url}?ignoreWarnings=true", data=md_to_xlsx(HH_REGISTRATION), content_type=XLSX
    )
    assert draft.status_code == 200, draft.get_json()
    assert api.get(f"/v1/projects/{project}/datasets").get_json() == []
    assert api.post(f"{forms_url}/hh_reg/draft/publish").status_code == 200
    listed = api.get(f"/v1/projects/{project}/datasets/households").get_json()
    assert [p["name"] for p in listed["properties"]] == ["village", "born", "hh_size"]
    visit = api.post(
        f"{forms_url}?publish=true&ignoreWarnings=true",
        data=md_to_xlsx(HH_VISIT),
        content_type=XLSX,
    )
    assert visit.status_code == 200, visit.get_json()
    listed = api.get(f"/v1/projects/{project}/datasets/households").get_json()
    assert [p["name"] for p in listed["properties"]] == ["village", "born", "hh_size", "status"]
    assert "dataset.create" in central.audit_actions()


def test_a_form_that_would_save_an_identifier_to_an_entity_is_refused(
    setup: tuple[Central, int, str],
) -> None:
    central, project, token = setup
    api = central.api(token)
    leaking = HH_REGISTRATION.replace(
        "| identifier | name     |           |", "| identifier | name     | person    |"
    )
    assert leaking != HH_REGISTRATION
    before = central.counts()
    response = api.post(
        f"/v1/projects/{project}/forms?publish=true&ignoreWarnings=true",
        data=md_to_xlsx(leaking),
        content_type=XLSX,
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == 400.15
    assert "full_name" in response.get_json()["message"]
    assert "pseudonymised" in response.get_json()["message"]
    assert central.counts() == before
    assert api.get(f"/v1/projects/{project}/datasets").get_json() == []
