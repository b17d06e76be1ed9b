"""ODK Collect's conversation with the server, over real HTTP on loopback.

Everything ``central-compat.md`` says Collect needs: formList (shape, headers, the hash of the
exact bytes served, only published, open, assigned forms), download, manifest, HEAD 204,
POST 201, the 401/403 token matrix, closing and closed forms, retries and split uploads.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as ElementTree
import pytest
import requests
from sqlalchemy import select

from collector import appusers, entities, publishing, sessions, users, vault
from collector.audit import CLI
from collector.db import transaction
from collector.models import Form, FormDownload, FormVersion, SubmissionMedia, SubmissionRecord
from tests.support.collect import CollectClient
from tests.support.site import FORM_ID, VERSION, Sealer, Site, instance_xml
from tests.support.xlsform import FIELD_VISIT, HH_REGISTRATION, HH_VISIT

FORMLIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
RESPONSE = "{http://openrosa.org/http/response}"
SECOND_FORM = FIELD_VISIT.replace("field_visit", "second_visit").replace("Field visit", "Second")


def assert_openrosa(response: requests.Response, max_bytes: int = 100 * 1024 * 1024) -> None:
    """Check the headers every OpenRosa response carries (Collect rejects application/xml)."""
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(max_bytes)
    assert response.headers["Date"].endswith("GMT")
    if response.request.method != "HEAD":
        assert response.headers["Content-Type"].startswith("text/xml")


def response_message(response: requests.Response) -> str:
    """Return the <message> of an OpenRosaResponse (what Collect shows)."""
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{RESPONSE}OpenRosaResponse"
    return root.findtext(f"{RESPONSE}message") or ""


def test_collect_round_trip(site: Site, collect: CollectClient) -> None:
    [listed] = collect.form_list()
    assert (listed.form_id, listed.version) == (FORM_ID, VERSION)
    form_xml = collect.download(listed)
    head = collect.head()
    assert head.status_code == 204
    assert_openrosa(head)
    iid = "uuid:0f0e9c1c-7c1e-4b47-9a55-3f1d3cbd0a01"
    upload = collect.seal(
        form_xml, FORM_ID, VERSION, instance_xml(iid), [("photo.jpg", b"\xff\xd8jpeg")], iid
    )
    response = collect.post(upload)
    assert response.status_code == 201, response.text
    assert_openrosa(response)
    assert response_message(response) == "full submission upload was successful!"
    assert site.drain() == 1
    sub = site.submission(iid)
    assert (sub.state, sub.signature, sub.reason, sub.attempts) == ("processed", "valid", None, 1)
    with site.instance.sessions() as session:
        record = json.loads(session.get(SubmissionRecord, sub.id).data)
        media = session.scalars(select(SubmissionMedia.name)).all()
    assert record["root"]["/data/age"] is not None
    assert [r["position"] for r in record["repeats"]["/data/member"]] == [[1], [2]]
    assert media == ["photo.jpg"]


def test_form_list_shape_headers_and_hash(site: Site, collect: CollectClient) -> None:
    response = collect._get(f"{site.server_url}/formList")
    assert response.status_code == 200
    assert_openrosa(response)
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{FORMLIST}xforms"
    [xform] = root.findall(f"{FORMLIST}xform")
    assert [child.tag.removeprefix(FORMLIST) for child in xform] == [
        "formID",
        "name",
        "version",
        "hash",
        "downloadUrl",
    ]
    assert xform.findtext(f"{FORMLIST}name") == "Field visit"
    url = xform.findtext(f"{FORMLIST}downloadUrl")
    assert url == f"{site.server_url}/forms/{FORM_ID}.xml"
    served = collect._get(url)
    assert served.headers["Content-Type"].startswith("text/xml")
    assert_openrosa(served)
    digest = hashlib.md5(served.content).hexdigest()
    assert xform.findtext(f"{FORMLIST}hash") == f"md5:{digest}"
    with site.instance.sessions() as session:
        stored = session.scalars(select(FormVersion.xml)).one()
    assert served.content == stored


def _set_state(site: Site, xml_form_id: str, state: str) -> None:
    with transaction(site.instance.sessions) as session:
        publishing.set_state(session, site.project_id, xml_form_id, state)


def _add_draft_only_form(site: Site) -> None:
    """A form that exists and is assigned, but has no published version."""
    with transaction(site.instance.sessions) as session:
        form = Form(project_id=site.project_id, xml_form_id="draft_only", name="Draft")
        session.add(form)
        session.flush()
        session.add(FormVersion(form_id=form.id, version="1", xml=b"<h:html/>", md5="0" * 32))
        user = appusers.list_for(session, site.project_id)[0]
        appusers.assign(session, user, form)


def test_form_list_shows_only_published_open_assigned_forms(site: Site) -> None:
    site.publish(SECOND_FORM)
    site.publish(SECOND_FORM.replace("second_visit", "closing_visit"))
    site.publish(SECOND_FORM.replace("second_visit", "closed_visit"))
    _add_draft_only_form(site)
    all_forms = ("second_visit", "closing_visit", "closed_visit", FORM_ID)
    token = site.app_user("Tablet 2", forms=all_forms)
    _set_state(site, "closing_visit", "closing")
    _set_state(site, "closed_visit", "closed")
    listed = CollectClient(site.url_for(token)).form_list()
    assert [f.form_id for f in listed] == [FORM_ID, "second_visit"]
    # The first app user was assigned FIELD_VISIT (and the draft) only.
    assert [f.form_id for f in CollectClient(site.server_url).form_list()] == [FORM_ID]


@pytest.mark.parametrize("form_id", ["second_visit", "closing_visit", "no_such_form"])
def test_forms_not_listed_cannot_be_downloaded(
    site: Site, collect: CollectClient, form_id: str
) -> None:
    site.publish(SECOND_FORM)
    site.publish(SECOND_FORM.replace("second_visit", "closing_visit"))
    _set_state(site, "closing_visit", "closing")
    for path in (f"forms/{form_id}.xml", f"forms/{form_id}/manifest"):
        response = collect._get(f"{site.server_url}/{path}")
        assert response.status_code == 404
        assert_openrosa(response)
        assert form_id in response_message(response)


def test_download_records_who_fetched_which_version(site: Site) -> None:
    client = CollectClient(site.server_url, device_id="collect:tablet-7")
    [listed] = client.form_list()
    with site.instance.sessions() as session:
        assert session.scalars(select(FormDownload)).all() == []
    client.download(listed)
    with site.instance.sessions() as session:
        row = session.scalars(select(FormDownload)).one()
        version = session.get(FormVersion, row.form_version_id)
        assert (version.version, row.device_id) == (VERSION, "collect:tablet-7")
        first = row.last_at
    client.download(listed)
    with site.instance.sessions() as session:
        again = session.scalars(select(FormDownload)).one()
    assert again.last_at >= first


def test_manifest_is_an_empty_media_list(site: Site, collect: CollectClient) -> None:
    response = collect._get(f"{site.server_url}/forms/{FORM_ID}/manifest")
    assert response.status_code == 200
    assert_openrosa(response)
    root = ElementTree.fromstring(response.content)
    assert (root.tag, list(root)) == (f"{MANIFEST}manifest", [])


def test_head_submission_answers_204_not_200(collect: CollectClient) -> None:
    response = collect.head()
    assert (response.status_code, response.content) == (204, b"")
    assert_openrosa(response)


# --- Tokens: malformed -> 401, well-formed but unusable -> 403 (Collect must not prompt). ---

ENDPOINTS = [
    ("GET", "formList"),
    ("GET", f"forms/{FORM_ID}.xml"),
    ("GET", f"forms/{FORM_ID}/manifest"),
    ("HEAD", "submission"),
    ("POST", "submission"),
]


def _token(site: Site, kind: str) -> tuple[str, int]:
    """Return a token of the given kind and the project to use it with."""
    if kind == "malformed-short":
        return "abc", site.project_id
    if kind == "malformed-alphabet":
        return "A" * 63 + "-", site.project_id
    if kind == "unknown":
        return appusers.new_token(), site.project_id
    if kind == "other-project":
        return site.token, site.project_id + 1
    token = site.app_user(kind, expires=datetime.now(UTC) - timedelta(seconds=1))
    if kind == "revoked":
        with transaction(site.instance.sessions) as session:
            user = appusers.list_for(session, site.project_id)[-1]
            user.expires_at = None
            appusers.revoke(session, user)
    return token, site.project_id


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("malformed-short", 401),
        ("malformed-alphabet", 401),
        ("unknown", 403),
        ("revoked", 403),
        ("expired", 403),
        ("other-project", 403),
    ],
)
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_token_matrix(
    site: Site, sealer: Sealer, kind: str, status: int, method: str, path: str
) -> None:
    token, project_id = _token(site, kind)
    upload = sealer()
    before = site.counts()
    files = {"xml_submission_file": ("submission.xml", upload.manifest, "text/xml")}
    response = requests.request(
        method,
        f"{site.url_for(token, project_id)}/{path}",
        files=files if method == "POST" else None,
        timeout=30,
    )
    assert response.status_code == status
    assert_openrosa(response)
    if method != "HEAD":
        assert response_message(response)
        assert token not in response.text
    assert site.counts() == before


# --- Form states: closing takes submissions but is not offered; closed refuses them. ---


def test_closing_form_is_hidden_but_accepts_submissions(site: Site, sealer: Sealer) -> None:
    _set_state(site, FORM_ID, "closing")
    assert sealer.client.form_list() == []
    upload = sealer()
    assert sealer.client.post(upload).status_code == 201
    site.drain()
    assert site.submission(upload.instance_id).state == "processed"


def test_closed_form_refuses_submissions_with_409(site: Site, sealer: Sealer) -> None:
    upload = sealer()
    _set_state(site, FORM_ID, "closed")
    response = sealer.client.post(upload)
    assert response.status_code == 409
    assert "closed" in response_message(response)
    assert site.counts() == (0, 0)


def test_unassigned_form_refuses_submissions_with_403(site: Site, sealer: Sealer) -> None:
    token = site.app_user("No forms", forms=())
    response = CollectClient(site.url_for(token)).post(sealer())
    assert response.status_code == 403
    assert site.counts() == (0, 0)


# --- instanceID idempotency: identical retries complete, different XML conflicts. ---


def test_identical_retry_answers_201_and_stores_nothing_twice(site: Site, sealer: Sealer) -> None:
    upload = sealer()
    assert sealer.client.post(upload).status_code == 201
    again = sealer.client.post(upload)
    assert again.status_code == 201, again.text
    assert site.counts() == (1, 2)
    site.drain()
    after = sealer.client.post(upload)
    assert after.status_code == 201
    assert site.counts() == (1, 2)
    assert site.submission(upload.instance_id).attempts == 1


def test_retry_with_other_xml_for_the_same_instance_is_409(site: Site, sealer: Sealer) -> None:
    first = sealer()
    assert sealer.client.post(first).status_code == 201
    other = sealer(first.instance_id, media=[("photo.jpg", b"another photo")])
    response = sealer.client.post(other)
    assert response.status_code == 409
    assert "instanceID" in response_message(response)
    assert site.counts() == (1, 2)
    assert site.submission(first.instance_id).manifest == first.manifest


def test_retry_with_other_bytes_for_a_stored_part_is_409(site: Site, sealer: Sealer) -> None:
    upload = sealer()
    assert sealer.client.post(upload, names=["photo.jpg.enc"], incomplete=True).status_code == 201
    changed = dict(upload.files, **{"photo.jpg.enc": b"\x00" * 32})
    response = sealer.client.post(type(upload)(upload.instance_id, upload.manifest, changed))
    assert response.status_code == 409
    assert site.counts() == (1, 1)
    assert site.submission(upload.instance_id).received_parts == 1


# --- Media and split uploads. ---


@pytest.mark.parametrize("count", [0, 3])
def test_media_round_trip(site: Site, sealer: Sealer, count: int) -> None:
    media = [(f"{i}.jpg", bytes([i]) * (1000 + i)) for i in range(count)]
    upload = sealer(media=media)
    assert sealer.client.post(upload).status_code == 201
    site.drain()
    sub = site.submission(upload.instance_id)
    assert (sub.state, sub.received_parts) == ("processed", count + 1)
    with site.instance.sessions() as session:
        names = session.scalars(select(SubmissionMedia.name).order_by(SubmissionMedia.name))
        assert list(names) == [name for name, _data in media]


def test_split_upload_completes_the_same_submission(site: Site, sealer: Sealer) -> None:
    media = [(f"{i:02}.jpg", bytes([i]) * 5000) for i in range(20)]
    upload = sealer(media=media)
    names = list(upload.files)
    for start in (0, 8):
        chunk = names[start : start + 8]
        response = sealer.client.post(upload, names=chunk, incomplete=True)
        assert response.status_code == 201, response.text
        assert response_message(response) == "partial submission upload was successful!"
        site.drain()
        assert site.submission(upload.instance_id).state == "received"
    last = sealer.client.post(upload, names=names[16:])
    assert last.status_code == 201
    assert response_message(last) == "full submission upload was successful!"
    assert site.counts() == (1, 21)
    site.drain()
    assert site.submission(upload.instance_id).state == "processed"
    with site.instance.sessions() as session:
        assert len(session.scalars(select(SubmissionMedia)).all()) == 20


# --- Logs: the token is in every URL, and must be in no log line. ---


def test_an_unexpected_error_is_logged_without_the_token(
    site: Site, sealer: Sealer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from collector import intake

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(intake, "receive", broken)
    response = sealer.client.post(sealer())
    assert response.status_code == 500
    assert response_message(response) == "internal error"
    assert site.token not in response.text
    [record] = [r for r in caplog.records if r.name == "collector.api"]
    assert "/v1/key/***/projects/" in record.getMessage()
    assert site.token not in record.getMessage()


def test_the_redacting_filter_blanks_tokens_in_messages_and_tracebacks() -> None:
    import logging

    from api.server import RedactingFilter

    token = appusers.new_token()
    try:
        raise ValueError(f"failed on /v1/key/{token}/projects/1/submission")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "gunicorn.error", logging.ERROR, __file__, 1, "Error handling request %s",
            (f"/v1/key/{token}/projects/1/formList",), sys.exc_info(),
        )  # fmt: skip
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert token not in text
    assert "request /v1/key/***/projects/1/formList" in text
    assert "ValueError: failed on /v1/key/***/projects/1/submission" in text


# --- Form attachments: listed in the manifest (when uploaded), served as hashed. ---

WITH_FILES = """
| survey   |
|          | type                            | name  | label |
|          | select_one_from_file places.csv | place | Place |
|          | select_one_from_file areas.csv  | area  | Area  |
| settings |
|          | form_id    | version | form_title |
|          | with_files | 1       | With files |
"""
PLACES = b"name,label\nvan,Van\nhatay,Hatay\n"


def test_attachments_are_offered_through_the_manifest(site: Site) -> None:
    site.publish(WITH_FILES)
    with transaction(site.instance.sessions) as session:
        form = publishing.get_form(session, site.project_id, "with_files")
        version = publishing.current_version(session, form.id)
        assert version is not None
        slots = {a.name: a for a in publishing.attachments(session, version)}
        assert set(slots) == {"places.csv", "areas.csv"}
        version_no, sealed = publishing.seal_attachment(
            vault.Secrets(site.instance.kek), session, site.project_id, "places.csv", PLACES
        )
        slots["places.csv"].data, slots["places.csv"].key_version = sealed, version_no
        slots["places.csv"].md5 = hashlib.md5(PLACES).hexdigest()
        slots["places.csv"].content_type = "text/csv"
    client = CollectClient(site.url_for(site.app_user("Files", forms=("with_files",))))
    response = client._get(f"{client.server_url}/formList")
    [xform] = ElementTree.fromstring(response.content).findall(f"{FORMLIST}xform")
    manifest_url = xform.findtext(f"{FORMLIST}manifestUrl")
    assert manifest_url == f"{client.server_url}/forms/with_files/manifest"
    manifest = client._get(manifest_url)
    assert_openrosa(manifest)
    [media] = ElementTree.fromstring(manifest.content).findall(f"{MANIFEST}mediaFile")
    assert media.findtext(f"{MANIFEST}filename") == "places.csv"
    served = client._get(media.findtext(f"{MANIFEST}downloadUrl") or "")
    assert (served.status_code, served.content) == (200, PLACES)
    assert media.findtext(f"{MANIFEST}hash") == f"md5:{hashlib.md5(served.content).hexdigest()}"
    missing = client._get(f"{client.server_url}/forms/with_files/attachments/areas.csv")
    assert missing.status_code == 404


def _manifest_files(client: CollectClient, form_id: str) -> dict[str, tuple[str, str]]:
    """The manifest's files: name -> (md5 hash, download URL)."""
    manifest = client._get(f"{client.server_url}/forms/{form_id}/manifest")
    assert_openrosa(manifest)
    return {
        media.findtext(f"{MANIFEST}filename") or "": (
            media.findtext(f"{MANIFEST}hash") or "",
            media.findtext(f"{MANIFEST}downloadUrl") or "",
        )
        for media in ElementTree.fromstring(manifest.content).findall(f"{MANIFEST}mediaFile")
    }


def test_an_entity_list_is_served_as_the_data_file_it_is_named_for(site: Site) -> None:
    """``select_one_from_file places.csv`` in a project with an entity list ``places``: Collect
    gets the live entities in Central's columns, and a new md5 whenever an entity changes."""
    site.publish(WITH_FILES)
    secrets = vault.Secrets(site.instance.kek)
    with transaction(site.instance.sessions) as session:
        places = entities.create_dataset(session, site.project_id, "places", False, actor=CLI)
        entities.add_property(session, places, "province", actor=CLI)
        made = entities.create_entities(
            session,
            secrets,
            places,
            [
                entities.NewEntity('Van, "centre"', {"province": "Van"}),
                entities.NewEntity("Antakya", {"province": "Hatay"}),
            ],
            actor=CLI,
        )
        van, antakya = (e.uuid for e in made)
    client = CollectClient(site.url_for(site.app_user("Lists", forms=("with_files",))))
    files = _manifest_files(client, "with_files")
    assert set(files) == {"places.csv"}  # areas.csv has neither a file nor a list
    md5, url = files["places.csv"]
    served = client._get(url)
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("text/csv")
    assert md5 == f"md5:{hashlib.md5(served.content).hexdigest()}"
    rows = list(csv.reader(io.StringIO(served.content.decode())))
    assert rows[0] == ["name", "label", "__version", "province"]
    expected = [[van, 'Van, "centre"', "1", "Van"], [antakya, "Antakya", "1", "Hatay"]]
    assert sorted(rows[1:]) == sorted(expected)

    with transaction(site.instance.sessions) as session:
        places = entities.get_dataset(session, site.project_id, "places")
        entity = entities.get_entity(session, places, antakya)
        change = entities.Update(data={"province": "Hatay (İskenderun)"}, force=True)
        entities.update_entity(session, secrets, places, entity, change, actor=CLI)
        gone = entities.get_entity(session, places, van)
        entities.delete_entity(session, places, gone, actor=CLI)
    md5_after, _url = _manifest_files(client, "with_files")["places.csv"]
    assert md5_after != md5
    rows = list(csv.reader(io.StringIO(client._get(url).content.decode())))
    assert rows[1:] == [[antakya, "Antakya", "2", "Hatay (İskenderun)"]]

    admin = requests.Session()
    with transaction(site.instance.sessions) as session:
        user = users.create(session, "lists@example.org", "admin", None)
        admin.headers["Authorization"] = f"Bearer {sessions.issue(session, user).token}"
    listed = admin.get(
        f"{site.origin}/v1/projects/{site.project_id}/forms/with_files/attachments", timeout=30
    ).json()
    by_name = {a["name"]: a for a in listed}
    assert (by_name["places.csv"]["datasetExists"], by_name["places.csv"]["exists"]) == (True, True)
    assert by_name["places.csv"]["blobExists"] is False
    assert (by_name["areas.csv"]["datasetExists"], by_name["areas.csv"]["exists"]) == (False, False)


def test_an_uploaded_data_file_takes_precedence_over_an_entity_list(site: Site) -> None:
    site.publish(WITH_FILES)
    secrets = vault.Secrets(site.instance.kek)
    with transaction(site.instance.sessions) as session:
        places = entities.create_dataset(session, site.project_id, "places", False, actor=CLI)
        one = [entities.NewEntity("Van", {})]
        entities.create_entities(session, secrets, places, one, actor=CLI)
        form = publishing.get_form(session, site.project_id, "with_files")
        version = publishing.current_version(session, form.id)
        assert version is not None
        [slot] = [a for a in publishing.attachments(session, version) if a.name == "places.csv"]
        slot.key_version, slot.data = publishing.seal_attachment(
            secrets, session, site.project_id, "places.csv", PLACES
        )
        slot.md5, slot.content_type = hashlib.md5(PLACES).hexdigest(), "text/csv"
    client = CollectClient(site.url_for(site.app_user("Upload", forms=("with_files",))))
    md5, url = _manifest_files(client, "with_files")["places.csv"]
    assert client._get(url).content == PLACES
    assert md5 == f"md5:{hashlib.md5(PLACES).hexdigest()}"


def test_a_registration_from_collect_reaches_the_follow_up_form(site: Site) -> None:
    """The whole entity loop over HTTP: a tablet registers a household, the worker creates the
    entity from the pseudonymised record, the follow-up form's list offers it (without the
    name), and a visit from that list updates it."""
    site.publish(HH_REGISTRATION)
    site.publish(HH_VISIT)
    client = CollectClient(site.url_for(site.app_user("Visits", forms=("hh_reg", "hh_visit"))))
    listed = {f.form_id: f for f in client.form_list()}
    household = str(uuid.uuid4())

    def send(form_id: str, values: str, entity: str) -> None:
        form_xml = client.download(listed[form_id])
        iid = f"uuid:{uuid.uuid4()}"
        xml = (
            f'<data id="{form_id}" version="1">{values}<meta>{entity}'
            f"<instanceID>{iid}</instanceID></meta></data>"
        ).encode()
        response = client.post(client.seal(form_xml, form_id, "1", xml, instance_id=iid))
        assert response.status_code == 201, response.text
        site.drain()
        assert site.submission(iid).state == "processed"

    send(
        "hh_reg",
        "<full_name>Ayşe Yılmaz</full_name><village>Karşıyaka</village>"
        "<dob>1990-05-17</dob><household>4</household>",
        f'<entity dataset="households" create="1" id="{household}">'
        "<label>HH Karşıyaka</label></entity>",
    )
    md5, url = _manifest_files(client, "hh_visit")["households.csv"]
    served = client._get(url).content.decode()
    assert "Ayşe" not in served
    assert "1990-05-17" not in served
    rows = list(csv.reader(io.StringIO(served)))
    assert rows == [
        ["name", "label", "__version", "village", "born", "hh_size", "status"],
        [household, "HH Karşıyaka", "1", "Karşıyaka", "1990", "4", ""],
    ]

    send(
        "hh_visit",
        f"<household_id>{household}</household_id><status>moved</status><household>5</household>",
        f'<entity dataset="households" update="1" baseVersion="1" trunkVersion="1" branchId=""'
        f' id="{household}"/>',
    )
    md5_after, url = _manifest_files(client, "hh_visit")["households.csv"]
    assert md5_after != md5
    rows = list(csv.reader(io.StringIO(client._get(url).content.decode())))
    assert rows[1:] == [[household, "HH Karşıyaka", "2", "Karşıyaka", "1990", "5", "moved"]]
