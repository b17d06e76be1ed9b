"""Testing a draft on a device: Collect under the draft's token, test submissions kept apart
from the form's data, and deleted (their vault subjects shredded) when the draft is published."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from pathlib import Path

import requests
from sqlalchemy import func, select

from collector import sessions, users
from collector.db import transaction
from collector.models import AuditEntry, FormVersion, Subject, Submission, SubmissionRecord
from tests.api.conftest import Invoke
from tests.support.collect import CollectClient
from tests.support.site import FORM_ID, Sealer, Site
from tests.support.xlsform import FIELD_VISIT, HH_REGISTRATION, md_to_xlsx

DRAFT_VERSION = "2026120701"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TESTER = "Gülizar Tester-Öztürk"


def admin_session(site: Site) -> requests.Session:
    api = requests.Session()
    with transaction(site.instance.sessions) as session:
        user = users.create(session, f"{uuid.uuid4().hex[:8]}@example.org", "admin", None)
        api.headers["Authorization"] = f"Bearer {sessions.issue(session, user).token}"
    return api


def new_draft(site: Site, api: requests.Session, md: str = FIELD_VISIT) -> str:
    """Upload a new version as the form's draft; return its test server URL for Collect."""
    base = f"{site.origin}/v1/projects/{site.project_id}/forms/{FORM_ID}"
    body = md_to_xlsx(md.replace("2026112301", DRAFT_VERSION))
    made = api.post(
        f"{base}/draft?ignoreWarnings=true",
        data=body,
        headers={"Content-Type": XLSX},
        timeout=30,
    )
    assert made.status_code == 200, made.text
    draft = api.get(f"{base}/draft", timeout=30).json()
    assert draft["version"] == DRAFT_VERSION
    token = draft["draftToken"]
    assert len(token) == 43
    return f"{site.origin}/v1/test/{token}/projects/{site.project_id}/forms/{FORM_ID}/draft"


def draft_instance(iid: str) -> bytes:
    return (
        f'<data id="{FORM_ID}" version="{DRAFT_VERSION}"><full_name>{TESTER}</full_name>'
        "<age>29</age><story>a test</story><member><member_name>Deneme Üye</member_name>"
        f"</member><photo/><meta><instanceID>{iid}</instanceID></meta></data>"
    ).encode()


def send_test(url: str) -> str:
    """Do what Collect does with the draft's QR code; return the test instanceID."""
    collect = CollectClient(url)
    [listed] = collect.form_list()
    assert (listed.form_id, listed.version) == (FORM_ID, DRAFT_VERSION)
    assert listed.download_url == f"{url}.xml"
    form_xml = collect.download(listed)  # checks the md5 the list gave
    assert collect.head().status_code == 204
    iid = f"uuid:{uuid.uuid4()}"
    sealed = collect.seal(form_xml, FORM_ID, DRAFT_VERSION, draft_instance(iid), instance_id=iid)
    response = collect.post(sealed)
    assert response.status_code == 201, response.text
    return iid


def real_and_test(site: Site, sealer: Sealer) -> tuple[requests.Session, str, str, str]:
    """A draft with one test submission, beside one real one, both processed: the admin's
    session, the draft's test URL, the real and the test instanceIDs."""
    api = admin_session(site)
    url = new_draft(site, api)
    real = sealer()
    assert sealer.client.post(real).status_code == 201
    test = send_test(url)
    site.drain()
    assert site.submission(test).state == "processed"  # decrypted with the draft's key
    return api, url, real.instance_id, test


def test_a_draft_is_tested_apart_from_the_forms_data(site: Site, sealer: Sealer) -> None:
    api, url, real_id, test = real_and_test(site, sealer)

    base = f"{site.origin}/v1/projects/{site.project_id}/forms/{FORM_ID}"
    listed = api.get(f"{base}/submissions", timeout=30).json()
    assert [s["instanceId"] for s in listed] == [real_id]
    assert api.get(f"{base}", timeout=30).json()["submissions"] == 1
    assert api.get(f"{base}/submissions/{test}", timeout=30).status_code == 404
    odata = api.get(f"{base}.svc/Submissions", params={"$count": "true"}, timeout=30).json()
    assert (odata["@odata.count"], [r["__id"] for r in odata["value"]]) == (1, [real_id])
    for export in ("submissions.csv", "submissions.jsonl"):
        exported = api.get(f"{base}/{export}", timeout=60).text
        assert real_id in exported
        assert test not in exported
    drafts_listed = api.get(f"{base}/draft/submissions", timeout=30).json()
    assert [(s["instanceId"], s["status"]) for s in drafts_listed] == [(test, "processed")]

    # Another token, or the draft's token on another form, opens nothing.
    wrong = url.replace("/v1/test/", "/v1/test/x")
    assert CollectClient(wrong).http.get(f"{wrong}/formList", timeout=30).status_code == 404
    other = url.replace(f"/forms/{FORM_ID}/", "/forms/with_files/")
    assert requests.get(f"{other}/formList", timeout=30).status_code == 404
    # The published form's real route does not take the draft's version.
    sealed_for_draft = CollectClient(url)
    [listed_draft] = sealed_for_draft.form_list()
    draft_xml = sealed_for_draft.download(listed_draft)
    iid = f"uuid:{uuid.uuid4()}"
    upload = sealer.client.seal(
        draft_xml, FORM_ID, DRAFT_VERSION, draft_instance(iid), instance_id=iid
    )
    assert sealer.client.post(upload).status_code == 404


def test_publishing_deletes_the_test_submissions_and_shreds_their_subjects(
    site: Site, sealer: Sealer
) -> None:
    api, url, real_id, test = real_and_test(site, sealer)
    with site.instance.sessions() as session:
        [test_sub] = session.scalars(select(Submission).where(Submission.instance_id == test))
        record = json.loads(session.get_one(SubmissionRecord, test_sub.id).data)
        test_subjects = set(record["subjects"])
        real_sub = session.scalars(
            select(Submission).where(Submission.instance_id == real_id)
        ).one()
        real_subjects = set(
            json.loads(session.get_one(SubmissionRecord, real_sub.id).data)["subjects"]
        )
    assert test_subjects
    assert not test_subjects & real_subjects

    base = f"{site.origin}/v1/projects/{site.project_id}/forms/{FORM_ID}"
    assert api.post(f"{base}/draft/publish", timeout=30).status_code == 200
    with site.instance.sessions() as session:
        left = [s.instance_id for s in session.scalars(select(Submission))]
        shredded = {
            s.id: s.erased_at is not None
            for s in session.scalars(
                select(Subject).where(Subject.id.in_(test_subjects | real_subjects))
            )
        }
        records = session.scalar(select(func.count()).select_from(SubmissionRecord))
        published = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "form.publish")
            .order_by(AuditEntry.id.desc())
        ).first()
    assert left == [real_id]
    assert records == 1
    assert shredded == {**{i: True for i in test_subjects}, **{i: False for i in real_subjects}}
    assert published is not None
    assert json.loads(published.details)["testSubmissions"] == 1
    # The draft's URLs are closed; the form now serves the published draft.
    assert requests.get(f"{url}/formList", timeout=30).status_code == 404
    assert api.get(f"{base}", timeout=30).json()["version"] == DRAFT_VERSION


def test_discarding_a_draft_deletes_its_test_submissions(site: Site) -> None:
    api = admin_session(site)
    url = new_draft(site, api)
    send_test(url)
    base = f"{site.origin}/v1/projects/{site.project_id}/forms/{FORM_ID}"
    assert api.delete(f"{base}/draft", timeout=30).status_code == 200  # before processing
    with site.instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
    assert requests.get(f"{url}/formList", timeout=30).status_code == 404
    # A new draft has a new token.
    again = new_draft(site, api)
    assert again != url


def test_a_test_submission_creates_no_entity(site: Site) -> None:
    md = HH_REGISTRATION
    site.publish(md)
    api = admin_session(site)
    base = f"{site.origin}/v1/projects/{site.project_id}/forms/hh_reg"
    made = api.post(
        f"{base}/draft?ignoreWarnings=true",
        data=md_to_xlsx(md.replace("| hh_reg   | 1       |", "| hh_reg   | 2       |")),
        headers={"Content-Type": XLSX},
        timeout=30,
    )
    assert made.status_code == 200, made.text
    token = api.get(f"{base}/draft", timeout=30).json()["draftToken"]
    url = f"{site.origin}/v1/test/{token}/projects/{site.project_id}/forms/hh_reg/draft"
    collect = CollectClient(url)
    [listed] = collect.form_list()
    iid = f"uuid:{uuid.uuid4()}"
    xml = (
        f'<data id="hh_reg" version="2"><village>Test</village><household>1</household>'
        f'<meta><entity dataset="households" create="1" id="{uuid.uuid4()}"><label>HH Test'
        f"</label></entity><instanceID>{iid}</instanceID></meta></data>"
    ).encode()
    sealed = collect.seal(collect.download(listed), "hh_reg", "2", xml, instance_id=iid)
    assert collect.post(sealed).status_code == 201
    site.drain()
    assert site.submission(iid).state == "processed"
    entities = api.get(
        f"{site.origin}/v1/projects/{site.project_id}/datasets/households/entities", timeout=30
    ).json()
    assert entities == []


def test_the_draft_manifest_and_files_are_the_drafts(site: Site) -> None:
    api = admin_session(site)
    md = FIELD_VISIT.replace(
        "|          | image   | photo     | Photo         | sensitive  |          |",
        "|          | image   | photo     | Photo         | sensitive  |          |\n"
        "|          | select_one_from_file places.csv | place | Place |  |  |",
    )
    assert md != FIELD_VISIT
    url = new_draft(site, api, md)
    base = f"{site.origin}/v1/projects/{site.project_id}/forms/{FORM_ID}"
    uploaded = api.post(
        f"{base}/draft/attachments/places.csv",
        data=b"name,label\nvan,Van\n",
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    assert uploaded.status_code == 200, uploaded.text
    collect = CollectClient(url)
    [listed] = collect.form_list()
    assert listed.download_url == f"{url}.xml"
    manifest = collect.http.get(f"{url}/manifest", timeout=30)
    assert manifest.status_code == 200
    assert "places.csv" in manifest.text
    file_url = manifest.text.split("<downloadUrl>")[1].split("</downloadUrl>")[0]
    assert file_url == f"{url}/attachments/places.csv"
    assert collect.http.get(file_url, timeout=30).content == b"name,label\nvan,Van\n"


def test_the_cli_tests_a_draft_then_publishes_it(site: Site, cli: Invoke, tmp_path: Path) -> None:
    xlsx, png = tmp_path / "next.xlsx", tmp_path / "draft.png"
    xlsx.write_bytes(md_to_xlsx(FIELD_VISIT.replace("2026112301", DRAFT_VERSION)))
    made = cli("forms", "draft", str(xlsx), "--project", str(site.project_id),
               "--origin", site.origin, "--qr", str(png))  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.output.startswith(f"{FORM_ID} {DRAFT_VERSION} (draft)\n")
    url = made.output.split("Collect server URL: ")[1].split()[0]
    assert png.read_bytes().startswith(b"\x89PNG")
    test = send_test(url)
    site.drain()
    out = tmp_path / "tests.jsonl"
    exported = cli("export", "--project", str(site.project_id), "--form", FORM_ID,
                   "--format", "jsonl", "--out", str(out), "--draft")  # fmt: skip
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["__id"] for row in lines[:-1]] == [test]
    assert lines[-1]["__summary"]["draft"] is True
    done = cli("forms", "publish-draft", FORM_ID, "--project", str(site.project_id))
    assert done.exit_code == 0, done.output
    assert done.output == f"{FORM_ID} {DRAFT_VERSION} (1 test submissions deleted)\n"
    assert requests.get(f"{url}/formList", timeout=30).status_code == 404
    none = cli("forms", "discard-draft", FORM_ID, "--project", str(site.project_id))
    assert none.exit_code == 1
    assert "has no draft" in none.output
    gone = tmp_path / "none.jsonl"
    refused = cli("export", "--project", str(site.project_id), "--form", FORM_ID,
                  "--out", str(gone), "--draft")  # fmt: skip
    assert refused.exit_code != 0
    assert "has no draft" in refused.output
    assert not gone.exists()


def test_bad_test_uploads_are_refused_and_store_nothing(site: Site, sealer: Sealer) -> None:
    api = admin_session(site)
    url = new_draft(site, api)
    collect = CollectClient(url)
    before = site.counts()
    # Not multipart; no manifest; a manifest that is not XML.
    assert collect.http.post(f"{url}/submission", data=b"x", timeout=30).status_code == 400
    empty = collect.http.post(f"{url}/submission", files={"other": ("a", b"b")}, timeout=30)
    assert empty.status_code == 400
    junk = collect.http.post(
        f"{url}/submission", files={"xml_submission_file": ("s.xml", b"<no")}, timeout=30
    )
    assert junk.status_code == 400
    # A submission of the published version, not the draft's.
    published = sealer()
    assert collect.post(published).status_code == 404
    # A submission of another form.
    [listed] = collect.form_list()
    draft_xml = collect.download(listed)
    iid = f"uuid:{uuid.uuid4()}"
    other = collect.seal(
        draft_xml, "other_form", DRAFT_VERSION, draft_instance(iid), instance_id=iid
    )
    assert collect.post(other).status_code == 400
    assert site.counts() == before


def test_the_test_listing_needs_a_draft(site: Site) -> None:
    api = admin_session(site)
    base = f"{site.origin}/v1/projects/{site.project_id}/forms/{FORM_ID}"
    with site.instance.sessions() as session:
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
    for path in (
        "draft/submissions",
        "draft.svc",
        "draft.svc/Submissions",
        "draft/submissions.csv",
    ):
        answer = api.get(f"{base}/{path}", timeout=30)
        assert answer.status_code == 404, path
        assert "has no draft" in answer.json()["message"]
    with site.instance.sessions() as session:  # refused before any export was audited
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited


def test_the_drafts_feed_and_exports_show_its_tests_as_its_rules_make_them(
    site: Site, sealer: Sealer
) -> None:
    """What a form designer checks before publishing: each test answer as the draft's PII
    rules store it, in the draft's own columns, and nothing of the form's data."""
    api = admin_session(site)
    with_town = FIELD_VISIT.replace(
        "|          | image   | photo",
        "|          | text    | town      | Town          |            |          |\n"
        "|          | image   | photo",
    )
    url = new_draft(site, api, with_town)
    real = sealer()
    assert sealer.client.post(real).status_code == 201
    test = send_test(url)
    site.drain()
    base = f"{site.origin}/v1/projects/{site.project_id}/forms/{FORM_ID}"

    feed = api.get(f"{base}/draft.svc/Submissions", params={"$count": "true"}, timeout=30)
    assert feed.status_code == 200, feed.text
    body = feed.json()
    assert body["@odata.context"] == f"{base}/draft.svc/$metadata#Submissions"
    [row] = body["value"]
    assert (body["@odata.count"], row["__id"]) == (1, test)
    assert row["full_name"].startswith("P")
    assert row["full_name"] != TESTER
    assert (row["age"], row["story"], row["town"]) == ("25-29", "a test", None)
    assert TESTER not in feed.text
    members = api.get(f"{base}/draft.svc/Submissions.member", timeout=30).json()["value"]
    assert [m["member_name"].startswith("P") for m in members] == [True]
    service = api.get(f"{base}/draft.svc", timeout=30).json()
    assert [s["url"] for s in service["value"]] == ["Submissions", "Submissions.member"]
    schema = api.get(f"{base}/draft.svc/$metadata", timeout=30)
    assert schema.status_code == 200
    assert b'Name="town"' in schema.content
    assert b'Name="town"' not in api.get(f"{base}.svc/$metadata", timeout=30).content

    zipped = api.get(f"{base}/draft/submissions.csv.zip", timeout=60)
    assert zipped.status_code == 200, zipped.text
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        [root] = list(csv.DictReader(io.StringIO(archive.read(f"{FORM_ID}.csv").decode())))
        summary = json.loads(archive.read("summary.json"))
    assert (root["KEY"], root["town"], root["FormVersion"]) == (test, "", DRAFT_VERSION)
    assert (summary["draft"], summary["received"], summary["exported"]) == (True, 1, 1)
    assert TESTER.encode() not in zipped.content
    for export in ("submissions.csv", "submissions.jsonl", "submissions.xlsx"):
        answer = api.get(f"{base}/draft/{export}", timeout=60)
        assert answer.status_code == 200, (export, answer.text)
        if export != "submissions.xlsx":
            assert test in answer.text
            assert real.instance_id not in answer.text
    # The form's own feed and exports still show its data only, in its own columns.
    published = api.get(f"{base}/submissions.csv", timeout=60).text
    assert real.instance_id in published
    assert test not in published
    assert "town" not in published.splitlines()[0]
    with transaction(site.instance.sessions) as session:
        starts = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export.start")
        ).all()
    assert [json.loads(e.details).get("draft", False) for e in starts] == [True] * 4 + [False]


def test_cli_draft_commands_refuse_bad_input_and_change_nothing(
    site: Site, cli: Invoke, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    before = site.counts()
    made = cli("forms", "draft", str(broken), "--project", str(site.project_id))
    assert made.exit_code == 1
    assert "Traceback" not in made.output
    with site.instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FormVersion)) == 1
    none = cli("forms", "publish-draft", FORM_ID, "--project", str(site.project_id))
    assert none.exit_code == 1
    assert "has no draft" in none.output
    assert site.counts() == before
