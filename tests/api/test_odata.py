"""OData over real HTTP on loopback: session tokens, Central's envelopes and problems, pyodk.

A project with the profile survey gets planted people through the real pipeline; a data
manager and an admin then read it with ``requests`` and with pyodk's ``get_table`` (pandas on
top, as pyodk's documentation shows). Every body is searched for the planted plaintext.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree
import pandas as pd
import pytest
import requests
from flask import Flask
from pyodk.client import Client
from sqlalchemy import event, select

from api.config import Instance
from collector import roles, users
from collector.audit import CLI
from collector.db import transaction
from collector.models import AuditEntry, FormVersion, Project, Submission, SubmissionPart
from tests.collector.odata_support import NOTES, PEOPLE, Person, planted, profile_xml
from tests.support.pipeline import process_all, publish, submit
from tests.support.server import threaded_server
from tests.support.site import instance_of
from tests.support.xlsform import PROFILE

PASSWORD = "correct horse battery"
JSON_TYPE = "application/json;odata.metadata=minimal"


@dataclass
class Site:
    origin: str
    project_id: int
    instance_ids: list[str]
    instance: Instance

    def svc(self, form: str = "profile") -> str:
        return f"{self.origin}/v1/projects/{self.project_id}/forms/{form}.svc"

    def login(self, email: str) -> requests.Session:
        http = requests.Session()
        answer = http.post(
            f"{self.origin}/v1/sessions", json={"email": email, "password": PASSWORD}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        http.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return http


def _load(app: Flask) -> tuple[int, list[str]]:
    instance = instance_of(app)
    with transaction(instance.sessions) as session:
        version = publish(session, instance.kek, PROFILE)
        project_id = version.form.project_id
        users.create(session, "admin@example.org", "admin", PASSWORD)
        manager = users.create(session, "dm@example.org", "data-manager", PASSWORD)
        users.create(session, "other@example.org", "data-manager", PASSWORD)
        project = session.get(Project, project_id)
        assert project is not None
        roles.add_member(session, project, manager, actor=CLI)
    with instance.sessions() as session:
        ids = [submit(session, version, profile_xml(p)) for p in PEOPLE]
    process_all(instance.sessions, instance.kek)
    return project_id, ids


@pytest.fixture
def site(app: Flask) -> Iterator[Site]:
    """The app (closed by conftest) with the profile survey loaded, served on loopback."""
    project_id, ids = _load(app)
    with threaded_server(app) as origin:
        yield Site(origin, project_id, ids, instance_of(app))


def secrets_in(text: str, *, narratives: bool = True) -> list[str]:
    """Return the planted values found in a response body."""
    found = [v for p in PEOPLE for v in planted(p) if v in text]
    return found if narratives else [v for v in found if "narrative" not in v]


def test_data_manager_reads_pseudonymised_tables(site: Site) -> None:
    http = site.login("dm@example.org")
    bodies: list[str] = []
    document = http.get(site.svc(), timeout=30)
    assert document.status_code == 200
    assert document.headers["Content-Type"] == JSON_TYPE
    assert [t["name"] for t in document.json()["value"]] == ["Submissions", "Submissions.household"]
    metadata = http.get(f"{site.svc()}/$metadata", timeout=30)
    assert metadata.headers["Content-Type"].startswith("application/xml")
    assert defusedxml.ElementTree.fromstring(metadata.content).get("Version") == "4.0"
    first = http.get(f"{site.svc()}/Submissions?%24top=2&%24count=True&%24wkt=True", timeout=30)
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["@odata.context"] == f"{site.svc()}/$metadata#Submissions"
    assert page["@odata.count"] == 3
    newest_first = site.instance_ids[::-1]
    assert [r["__id"] for r in page["value"]] == newest_first[:2]
    second = http.get(page["@odata.nextLink"], timeout=30)
    [oldest] = second.json()["value"]
    assert [oldest["__id"]] == newest_first[2:]
    assert oldest["location"] == "POINT (28.98 41.01)"
    assert oldest["narrative"] is None
    expanded = http.get(f"{site.svc()}/Submissions", params={"$expand": "*"}, timeout=30)
    link = expanded.json()["value"][-1]["household@odata.navigationLink"]
    household = http.get(f"{site.svc()}/{link}", timeout=30)
    assert household.status_code == 200, household.text
    assert len(household.json()["value"]) == 2
    bodies += [document.text, metadata.text, first.text, second.text, expanded.text, household.text]
    assert secrets_in("".join(bodies)) == []


def test_admin_sees_sensitive_values_and_is_audited(site: Site) -> None:
    http = site.login("admin@example.org")
    rows = http.get(f"{site.svc()}/Submissions", timeout=30).json()["value"]
    assert [r["narrative"] for r in rows] == [p.narrative for p in reversed(PEOPLE)]
    assert secrets_in(json.dumps(rows, ensure_ascii=False), narratives=False) == []
    with site.instance.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "odata.sensitive")
        ).all()
    assert actions == ["odata.sensitive"]


@pytest.mark.parametrize(
    ("case", "path", "code"),
    [
        ("expand one repeat", "Submissions?%24expand=household", 501.6),
        ("select with expand", "Submissions?$expand=*&$select=__id", 501.11),
        ("unknown option", "Submissions?%24search=x", 501.1),
        ("order by an answer", "Submissions?%24orderby=full_name", 501.5),
        ("order with a skiptoken", "Submissions?$orderby=__id&$skiptoken=01eyJzIjoxfQ", 501.1),
        ("filter syntax", "Submissions?$filter=group_size%20eq", 400.18),
        ("filter function", "Submissions?$filter=contains(full_name,'A')", 501.4),
        ("select unknown", "Submissions?$select=secret", 400.23),
        ("top not a number", "Submissions?$top=all", 400.11),
        ("unknown table", "Submissions.nope", 404.1),
        ("unknown submission", "Submissions('uuid:nope')", 404.1),
    ],
)
def test_problems_are_centrals(site: Site, case: str, path: str, code: float) -> None:
    answer = site.login("dm@example.org").get(f"{site.svc()}/{path}", timeout=30)
    assert answer.status_code == int(code), case
    body = answer.json()
    assert body["code"] == code
    assert set(body) == {"code", "message", "details"}


def test_who_may_read(site: Site) -> None:
    url = f"{site.svc()}/Submissions"
    assert requests.get(url, timeout=30).status_code == 401
    bad = requests.get(url, headers={"Authorization": "Bearer " + "x" * 64}, timeout=30)
    assert bad.status_code == 401
    assert site.login("other@example.org").get(url, timeout=30).status_code == 403
    unknown_form = site.login("dm@example.org").get(f"{site.svc('nope')}/Submissions", timeout=30)
    assert unknown_form.status_code == 404


def pyodk_client(site: Site, tmp_path: Path, email: str) -> Client:
    config = tmp_path / "pyodk_config.toml"
    config.write_text(
        f'[central]\nbase_url = "{site.origin}"\nusername = "{email}"\n'
        f'password = "{PASSWORD}"\ndefault_project_id = {site.project_id}\n'
    )
    return Client(config_path=str(config), cache_path=str(tmp_path / "pyodk_cache.toml"))


def test_pyodk_get_table_and_pandas(site: Site, tmp_path: Path) -> None:
    with pyodk_client(site, tmp_path, "dm@example.org") as client:
        table: dict[str, Any] = client.submissions.get_table(
            form_id="profile", project_id=site.project_id, expand="*", wkt=True, count=True
        )
        people = client.submissions.get_table(
            form_id="profile", table_name="Submissions.household", select="__id,member_name"
        )
        filtered = client.submissions.get_table(
            form_id="profile", skip=1, top=2, count=True, wkt=True,
            filter="__system/submitterId eq 5", expand="*",
        )  # fmt: skip
        recent = client.submissions.get_table(
            form_id="profile", filter="__system/submissionDate gt 2020-01-01 and group_size ge 2"
        )
    assert table["@odata.count"] == 3
    assert [r["__id"] for r in table["value"]] == site.instance_ids[::-1]
    assert [len(r["household"]) for r in table["value"]] == [1, 0, 2]
    assert [set(r) for r in people["value"]] == [{"__id", "member_name"}] * 3
    assert filtered["value"] == []
    assert filtered["@odata.count"] == 0
    assert [r["__id"] for r in recent["value"]] == [site.instance_ids[2], site.instance_ids[0]]
    frame = pd.json_normalize(data=table["value"], sep="/")
    assert len(frame) == 3
    assert {"__id", "__system/submissionDate", "full_name", "dob", "location"} <= set(frame)
    assert list(frame["dob"]) == ["2001", "1984", "1990"]
    assert frame["full_name"].str.match(r"^P[0-9A-Z]{3}(-[0-9A-Z]{4}){4}$").all()
    every = json.dumps([table, people, filtered, recent], ensure_ascii=False)
    assert secrets_in(every) == []
    assert NOTES not in every


def connections_held(instance: Instance) -> Callable[[], int]:
    """Count the instance's database connections checked out from now on, less those returned."""
    balance = [0]

    def out(*_args: object) -> None:
        balance[0] += 1

    def back(*_args: object) -> None:
        balance[0] -= 1

    event.listen(instance.engine, "checkout", out)
    event.listen(instance.engine, "checkin", back)
    return lambda: balance[0]


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Wait for a condition the server reaches after its last byte is sent."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


#: More rows than a server-side page (this server once capped pages at 250; Central never has).
WHOLE = 300


def test_pyodk_get_table_gets_every_row_in_one_streamed_response(
    site: Site, tmp_path: Path
) -> None:
    """Without ``$top``, as Central: every row, newest first, and no next link (pyodk's
    ``get_table`` would not follow one, so a script would silently see a part)."""
    with site.instance.sessions() as session:
        version = session.scalars(select(FormVersion)).one()
        for n in range(WHOLE):
            submit(session, version, profile_xml(Person(f"Kişi {n}", f"+90 555 {n:07d}",
                   f"T{n:07d}", (), n, "1990-01-01", f"story {n}")))  # fmt: skip
    process_all(site.instance.sessions, site.instance.kek)
    with pyodk_client(site, tmp_path, "dm@example.org") as client:
        table = client.submissions.get_table(form_id="profile", count=True)
        top = client.submissions.get_table(form_id="profile", top=250)
    rows = [r["__id"] for r in table["value"]]
    assert len(rows) == len(set(rows)) == table["@odata.count"] == WHOLE + 3
    assert rows[-3:] == site.instance_ids[::-1]
    assert [r["group_size"] for r in table["value"][:2]] == [WHOLE - 1, WHOLE - 2]
    assert "@odata.nextLink" not in table
    assert [r["__id"] for r in top["value"]] == rows[:250]
    http = site.login("dm@example.org")
    rest = http.get(top["@odata.nextLink"], timeout=30)
    assert [r["__id"] for r in rest.json()["value"]] == rows[250:]
    held = connections_held(site.instance)
    streamed = http.get(f"{site.svc()}/Submissions", stream=True, timeout=30)
    assert "Content-Length" not in streamed.headers
    assert len(streamed.json()["value"]) == WHOLE + 3
    # The stream reads after the request's teardown; it must give its connection back (an
    # open transaction on PostgreSQL holds locks), also when the client stops reading.
    assert eventually(lambda: held() == 0)
    cut = http.get(f"{site.svc()}/Submissions", stream=True, timeout=30)
    next(cut.iter_content(1024))
    cut.close()
    assert eventually(lambda: held() == 0)
    assert secrets_in(json.dumps(table, ensure_ascii=False)) == []


def test_pyodk_pages_follow_next_links(app: Flask, site: Site, tmp_path: Path) -> None:
    """pyodk's get_table returns one page; the rest are a GET of each @odata.nextLink away."""
    app.config["ODATA_PAGE_SIZE"] = 2
    with pyodk_client(site, tmp_path, "dm@example.org") as client:
        page = client.submissions.get_table(form_id="profile", count=True)
        assert len(page["value"]) == 2
        assert page["@odata.count"] == 3
        rows = list(page["value"])
        while "@odata.nextLink" in page:
            page = client.session.get(page["@odata.nextLink"]).json()
            rows += page["value"]
    assert [r["__id"] for r in rows] == site.instance_ids[::-1]


def test_an_ordered_read_pages_through_its_next_links(app: Flask, site: Site) -> None:
    """``$orderby`` over HTTP, its pages followed as a client follows them."""
    app.config["ODATA_PAGE_SIZE"] = 2
    http = site.login("dm@example.org")
    url = f"{site.svc()}/Submissions?$orderby=__system/submissionDate desc&$select=__id"
    page = http.get(url, timeout=30).json()
    rows = list(page["value"])
    while "@odata.nextLink" in page:
        page = http.get(page["@odata.nextLink"], timeout=30).json()
        rows += page["value"]
    assert [r["__id"] for r in rows] == list(reversed(site.instance_ids))


def test_excel_and_power_bi_log_in_with_basic_auth(site: Site) -> None:
    anonymous = requests.get(f"{site.svc()}/Submissions", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = requests.get(f"{site.svc()}/Submissions", auth=("dm@example.org", "nope"), timeout=30)
    assert wrong.status_code == 401
    table = requests.get(f"{site.svc()}/Submissions", auth=("dm@example.org", PASSWORD), timeout=30)
    assert table.status_code == 200, table.text
    assert len(table.json()["value"]) == 3
    outsider = requests.get(
        f"{site.svc()}/Submissions", auth=("other@example.org", PASSWORD), timeout=30
    )
    assert outsider.status_code == 403


def test_submissions_not_decrypted_are_rows_with_a_status(site: Site, tmp_path: Path) -> None:
    """As in Central, the root table lists every submission: one not decrypted (waiting, failed,
    or missing its encrypted XML) is a row of ``__id`` and ``__system`` with its status."""
    instance = site.instance
    with instance.sessions() as session:
        version = session.scalars(select(FormVersion)).one()
        tampered = submit(session, version, profile_xml(PEOPLE[0]))
        part = session.scalars(
            select(SubmissionPart)
            .join(Submission, Submission.id == SubmissionPart.submission_id)
            .where(Submission.instance_id == tampered, SubmissionPart.name == "submission.xml.enc")
        ).one()
        part.data = bytes(b ^ 0x5A for b in part.data)
        session.commit()
    process_all(instance.sessions, instance.kek)
    with instance.sessions() as session:
        version = session.scalars(select(FormVersion)).one()
        failed = session.scalars(select(Submission).where(Submission.instance_id == tampered))
        assert failed.one().state == "failed"
        waiting = submit(session, version, profile_xml(PEOPLE[1]))
        photo = [("photo.jpg", b"\xff\xd8 not really a photo")]
        split = submit(
            session, version, profile_xml(PEOPLE[2]), media=photo, only=["photo.jpg.enc"]
        )
        session.commit()

    http = site.login("dm@example.org")
    doc = http.get(f"{site.svc()}/Submissions?%24count=true", timeout=30).json()
    processed = site.instance_ids[::-1]
    assert [r["__id"] for r in doc["value"]] == [split, waiting, tampered, *processed]
    assert doc["@odata.count"] == 6
    statuses = [r["__system"]["status"] for r in doc["value"]]
    assert statuses == [
        "missingEncryptedFormData",
        "notDecrypted",
        "notDecrypted",
        None,
        None,
        None,
    ]
    for row in doc["value"][:3]:
        assert set(row) == {"__id", "__system"}  # metadata only: there is nothing decrypted
        assert row["__system"]["formVersion"] == version.version
        assert row["__system"]["submissionDate"].endswith("Z")
    assert doc["value"][0]["__system"]["attachmentsPresent"] == 1
    assert doc["value"][0]["__system"]["attachmentsExpected"] == 1

    def ids(query: str, table: str = "Submissions") -> list[str]:
        answer = http.get(f"{site.svc()}/{table}?{query}", timeout=30)
        assert answer.status_code == 200, answer.text
        return [r["__id"] for r in answer.json()["value"]]

    assert ids("%24filter=__system/status+eq+null") == processed
    assert ids("%24filter=__system/status+eq+%27notDecrypted%27") == [waiting, tampered]
    assert ids("%24filter=__system/status+ne+null&%24top=1&%24skip=1") == [waiting]
    assert ids("%24filter=group_size+ge+1") == processed  # no answers: no match
    # Repeat tables hold decrypted rows only; a pending submission reads as itself.
    assert len(ids("", "Submissions.household")) == 3
    one = http.get(f"{site.svc()}/Submissions('{waiting}')", timeout=30).json()["value"]
    assert [(r["__id"], r["__system"]["status"]) for r in one] == [(waiting, "notDecrypted")]
    members = http.get(f"{site.svc()}/Submissions('{waiting}')/household", timeout=30)
    assert (members.status_code, members.json()["value"]) == (200, [])
    unknown = http.get(f"{site.svc()}/Submissions('uuid:nothing')/household", timeout=30)
    assert unknown.status_code == 404
    with pyodk_client(site, tmp_path, "dm@example.org") as client:
        table = client.submissions.get_table(form_id="profile", expand="*")
    frame = pd.json_normalize(data=table["value"], sep="/")
    assert list(frame["__system/status"].fillna("")) == [*statuses[:3], "", "", ""]
    assert secrets_in(json.dumps([doc, table], ensure_ascii=False)) == []
