"""Admin endpoints (key rotation, the vault) and exports over HTTP, with their role rules."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from collector.models import AuditEntry, Subject
from tests.support.central import World, simple_instance


def names_submission(world: World, *names: str) -> None:
    response = world.central.api(world.admin).post(
        f"/v1/projects/{world.project_a}/forms/{world.form}/submissions",
        data=simple_instance("uuid:0a1b2c3d-0000-4000-8000-000000000001", names=names),
        content_type="application/xml",
    )
    assert response.status_code == 200, response.get_json()
    world.central.drain()


def test_rotate_status_destroy_are_admin_only(world: World) -> None:
    central, a = world.central, world.project_a
    for token in (world.manager, world.outsider, world.app_user):
        before = central.counts()
        refused = central.api(token).post(f"/v1/projects/{a}/key/rotate", json={})
        assert refused.status_code in (401, 403)
        assert central.counts() == before
    rotated = central.api(world.admin).post(f"/v1/projects/{a}/key/rotate", json={})
    assert rotated.status_code == 200, rotated.get_json()
    assert rotated.get_json()["generation"] == 2
    assert rotated.get_json()["republished"][0]["newVersion"].endswith("-k2")
    status = central.api(world.admin).get(f"/v1/projects/{a}/key/status").get_json()
    assert [(g["generation"], g["state"]) for g in status] == [(1, "retired"), (2, "active")]
    refused = central.api(world.admin).post(f"/v1/projects/{a}/key/generations/2/destroy")
    assert refused.status_code == 409
    assert refused.get_json()["code"] == 409.7
    assert "auth.denied" in central.audit_actions()


def test_reveal_and_erase_over_http(world: World) -> None:
    central, a = world.central, world.project_a
    names_submission(world, "Rukiye Çelik")
    with central.session() as session:
        token = session.scalars(select(Subject.pseudonym).where(Subject.kind == "name")).first()
    body = {"subject": token, "reason": "protection case follow-up"}
    assert (
        central.api(world.manager).post(f"/v1/projects/{a}/vault/reveal", json=body).status_code
        == 403
    )
    bad = central.api(world.admin).post(f"/v1/projects/{a}/vault/reveal", json={"subject": token})
    assert bad.status_code == 400
    shown = central.api(world.admin).post(f"/v1/projects/{a}/vault/reveal", json=body)
    assert shown.status_code == 200, shown.get_json()
    assert shown.get_json()["original"] == "Rukiye Çelik"
    erased = central.api(world.admin).post(f"/v1/projects/{a}/vault/erase", json=body)
    assert erased.status_code == 200
    gone = central.api(world.admin).post(f"/v1/projects/{a}/vault/reveal", json=body)
    assert gone.status_code == 410
    actions = central.audit_actions()
    assert {"auth.denied", "vault.reveal", "vault.erase", "vault.reveal.erased"} <= set(actions)


def test_exports_over_http(world: World) -> None:
    central, a, form = world.central, world.project_a, world.form
    names_submission(world, "Rukiye Çelik", "Selim Çelik")
    for token in (world.outsider, world.app_user):
        assert central.api(token).get(
            f"/v1/projects/{a}/forms/{form}/submissions.csv.zip"
        ).status_code in (401, 403)
    zipped = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}/submissions.csv.zip")
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        names = set(archive.namelist())
        people = archive.read(f"{form}-people.csv").decode()
    assert names == {f"{form}.csv", f"{form}-people.csv", "summary.json"}
    assert "Rukiye" not in people
    assert json.loads(zipped.headers["X-Collector-Summary"])["exported"] == 2
    root = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}/submissions.csv")
    assert root.status_code == 200
    assert root.data.decode().startswith("SubmissionDate,")
    # Central's options at the values that ask for this shape are taken as they are.
    usual = "groupPaths=true&splitSelectMultiples=false&deletedFields=false&%24filter="
    same = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}/submissions.csv?{usual}")
    assert (same.status_code, same.data) == (200, root.data)
    lines = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}/submissions.jsonl")
    assert len(lines.data.decode().splitlines()) == 3
    book = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}/submissions.xlsx")
    assert book.status_code == 200
    assert book.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert book.headers["Content-Disposition"] == f'attachment; filename="{form}.xlsx"'
    sheets = openpyxl.load_workbook(io.BytesIO(book.data), read_only=True)
    assert sheets.sheetnames == [form, "people", "summary"]
    people_rows = [row for row in sheets["people"].iter_rows(values_only=True)]
    assert len(people_rows) == 3  # the header and both names, as pseudonyms
    assert all(str(row[0]).startswith("P") for row in people_rows[1:])
    with zipfile.ZipFile(io.BytesIO(book.data)) as archive:
        assert not any(b"Rukiye" in archive.read(n) for n in archive.namelist())
    refused = central.api(world.manager).get(
        f"/v1/projects/{a}/forms/{form}/submissions.csv.zip?profile=reidentified&reason=tracing"
    )
    assert refused.status_code == 403
    plain = central.api(world.admin).get(
        f"/v1/projects/{a}/forms/{form}/submissions.csv.zip?profile=reidentified"
        "&reason=family+tracing"
    )
    with zipfile.ZipFile(io.BytesIO(plain.data)) as archive:
        assert "Rukiye Çelik" in archive.read(f"{form}-people.csv").decode()


def _exported_ids(world: World, path: str, query: str) -> list[str]:
    got = world.central.api(world.manager).get(
        f"/v1/projects/{world.project_a}/forms/{world.form}/{path}?{query}"
    )
    assert got.status_code == 200, got.get_json()
    if path.endswith(".jsonl"):
        rows = [json.loads(line) for line in got.data.decode().splitlines()]
        assert rows[-1]["__summary"]["filtered"] is ("%24filter" in query)
        return sorted(r["__id"] for r in rows[:-1])
    with zipfile.ZipFile(io.BytesIO(got.data)) as archive:
        summary = json.loads(archive.read("summary.json"))
        lines = archive.read(f"{world.form}.csv").decode().splitlines()
    assert summary["filtered"] is ("%24filter" in query)
    assert summary["received"] == 2  # the intake side counts the whole form
    header = lines[0].split(",")
    return sorted(line.split(",")[header.index("KEY")] for line in lines[1:])


def test_exports_keep_what_their_filter_matches(world: World) -> None:
    central, a, form = world.central, world.project_a, world.form
    names_submission(world, "Rukiye Çelik")
    other = "uuid:0a1b2c3d-0000-4000-8000-000000000001"
    both = sorted([world.instance_id, other])
    approved = central.api(world.admin).patch(
        f"/v1/projects/{a}/forms/{form}/submissions/{other.replace(':', '%3A')}",
        json={"reviewState": "approved"},
    )
    assert approved.status_code == 200, approved.get_json()
    for path in ("submissions.csv.zip", "submissions.jsonl"):
        assert _exported_ids(world, path, "") == both
        assert _exported_ids(world, path, "%24filter=__system/reviewState+eq+'approved'") == [other]
        assert _exported_ids(world, path, "%24filter=__system/reviewState+eq+null") == [
            world.instance_id
        ]
    by_id = f"%24filter=$root/Submissions/__id+eq+'{world.instance_id}'"
    assert _exported_ids(world, "submissions.csv.zip", by_id) == [world.instance_id]
    later = "%24filter=__system/submissionDate+ge+2100-01-01"
    assert _exported_ids(world, "submissions.csv.zip", later) == []
    neither = "%24filter=not+(__system/deletedAt+eq+null)"
    assert _exported_ids(world, "submissions.jsonl", neither) == []
    # The admin sent both over the API; nobody else sent any.
    mine = f"%24filter=__system/submitterId+eq+{world.admin_id}+or+__id+eq+'none'"
    assert _exported_ids(world, "submissions.jsonl", mine) == both
    theirs = f"%24filter=__system/submitterId+eq+{world.admin_id + 100}"
    assert _exported_ids(world, "submissions.jsonl", theirs) == []
    # The audit says that an export was filtered, not how: literals are free text.
    with central.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export.start").order_by(AuditEntry.id)
        ).all()
    details = [json.loads(e.details) for e in entries]
    unfiltered = [False, True, True]
    assert [d.get("filtered", False) for d in details] == [*unfiltered * 2, *[True] * 5]
    assert not any("approved" in e.details for e in entries)


def test_an_edited_submission_is_exported_once(world: World) -> None:
    central, a, form = world.central, world.project_a, world.form
    edit = simple_instance(
        "uuid:0a1b2c3d-0000-4000-8000-0000000000e2",
        place="Ağrı",
        names=("Ece", "Nur"),
        deprecated=world.instance_id,
    )
    response = central.api(world.admin).put(
        f"/v1/projects/{a}/forms/{form}/submissions/{world.instance_id.replace(':', '%3A')}",
        data=edit,
        content_type="application/xml",
    )
    assert response.status_code == 200, response.get_json()
    central.drain()
    zipped = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}/submissions.csv.zip")
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read(f"{form}.csv").decode())))
        people = list(csv.DictReader(io.StringIO(archive.read(f"{form}-people.csv").decode())))
    [row] = rows
    assert row["place"] == "Ağrı"
    # As in OData: the logical submission's date, submitter and review state, and its edits.
    odata = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}.svc/Submissions")
    [system] = [r["__system"] for r in odata.get_json()["value"]]
    # Its KEY is the logical submission's instanceID (OData's __id), and so are its repeat
    # rows' keys, although the rows were stored under the edit's instanceID.
    [odata_id] = [r["__id"] for r in odata.get_json()["value"]]
    assert row["KEY"] == odata_id == world.instance_id
    assert row["meta-instanceID"] == "uuid:0a1b2c3d-0000-4000-8000-0000000000e2"
    assert [(p["PARENT_KEY"], p["KEY"]) for p in people] == [
        (world.instance_id, f"{world.instance_id}/people[{n}]") for n in (1, 2)
    ]
    lines = central.api(world.manager).get(f"/v1/projects/{a}/forms/{form}/submissions.jsonl")
    exported = json.loads(lines.data.decode().splitlines()[0])
    assert exported["__id"] == world.instance_id
    assert [p["__parent"] for p in exported["people"]] == [world.instance_id] * 2
    assert row["SubmissionDate"] == system["submissionDate"]
    assert row["Edits"] == str(system["edits"]) == "1"
    assert row["SubmitterID"] == system["submitterId"] == str(world.admin_id)
    assert row["SubmitterName"] == (system["submitterName"] or "")
    assert row["ReviewState"] == (system["reviewState"] or "")


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "code"),
    [
        ("odd key size", "post", "/key/rotate", {"bits": 1000}, 400.8),
        ("bits not a number", "post", "/key/rotate", {"bits": "many"}, 400.8),
        ("unknown generation", "post", "/key/generations/9/destroy", {}, 404.1),
        ("reason too short", "post", "/vault/reveal", {"subject": "P1", "reason": "x"}, 400.8),
        ("unknown subject", "post", "/vault/erase", {"subject": "PXXX", "reason": "check"}, 404.1),
        ("unknown profile", "get", "/forms/simple/submissions.csv.zip?profile=raw", None, 400.23),
        ("unknown form", "get", "/forms/nope/submissions.csv.zip", None, 404.1),
        (
            "xlsx: unknown profile",
            "get",
            "/forms/simple/submissions.xlsx?profile=%00",
            None,
            400.23,
        ),
        (
            "xlsx: no reason",
            "get",
            "/forms/simple/submissions.xlsx?profile=reidentified&reason=+",
            None,
            400.22,
        ),
        ("xlsx: unknown form", "get", "/forms/n%C3%B6pe/submissions.xlsx", None, 404.1),
        # Central's options that this server does not apply are refused, never ignored.
        # A $filter on answers, or with a function, is not applied to exports; nor is nonsense.
        (
            "csv zip: $filter on an answer",
            "get",
            "/forms/simple/submissions.csv.zip?%24filter=place+eq+%27Van%27",
            None,
            501.5,
        ),
        (
            "jsonl: $filter with a function",
            "get",
            "/forms/simple/submissions.jsonl?%24filter=year(__system/submissionDate)+eq+2026",
            None,
            501.5,
        ),
        (
            "xlsx: $filter unparseable",
            "get",
            "/forms/simple/submissions.xlsx?%24filter=__id+eq",
            None,
            400.18,
        ),
        (
            "csv zip: $filter not text",
            "post",
            "/forms/simple/submissions.csv.zip",
            {"$filter": 3},
            400.8,
        ),
    ],
)
def test_admin_and_export_refuse_bad_input(
    world: World, case: str, method: str, path: str, body: object, code: float
) -> None:
    central = world.central
    before = central.counts()
    api = central.api(world.admin)
    url = f"/v1/projects/{world.project_a}{path}"
    response = api.post(url, json=body) if method == "post" else api.get(url)
    assert response.status_code == int(code), (case, response.get_json())
    assert response.get_json()["code"] == code
    assert central.counts() == before


def test_memberships_take_this_servers_role_name_and_centrals(world: World) -> None:
    central, b = world.central, world.project_b
    admin = central.api(world.admin)
    members = f"/v1/projects/{b}/assignments"
    before = {m["actorId"] for m in admin.get(members).get_json()}
    assert world.manager_id not in before
    assert admin.post(f"{members}/manager/{world.manager_id}").status_code == 200
    assert world.manager_id in {m["actorId"] for m in admin.get(members).get_json()}
    assert admin.delete(f"{members}/data-manager/{world.manager_id}").status_code == 200
    assert {m["actorId"] for m in admin.get(members).get_json()} == before
    counts = central.counts()
    viewer = admin.post(f"{members}/viewer/{world.manager_id}")
    assert viewer.status_code == 404
    assert "not a project role" in viewer.get_json()["message"]
    assert central.counts() == counts
