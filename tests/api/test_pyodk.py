"""pyodk 1.3.0 against a live ``collector serve`` on loopback, and every request it makes, replayed.

The server is the real command (gunicorn, two workers with their decryption threads) on a fresh
data dir and database, set up with ``collector init`` and ``collector users create``. pyodk
reads its config from a temp dir. The first test walks a survey's life: log in, create a
project, upload an XLSForm, create an app user, encrypt submissions as Collect does, read them
back (metadata, OData tables with pseudonyms and repeats), comment, review, export; the second
creates and edits submissions as plaintext XML, as pyodk sends them. One replays
``../shared/reference/pyodk_wire_log.json`` request by request (method, path, query, headers,
body), with ids and placeholder bodies replaced by real ones, and asserts each answer. The
rest call the remaining public methods of pyodk's client itself (forms listed, read and
updated in its three ways; one entity created, updated and deleted; an entity conflict two
tablets made, read and resolved), so that pyodk's own parsing of every answer is exercised,
not only the status codes.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyodk.client import Client
from pyodk.errors import PyODKError

from tests.collector.test_vault import profile
from tests.support.central import SIMPLE, simple_instance
from tests.support.collect import CollectClient
from tests.support.databases import fresh_database
from tests.support.pipeline import instance_xml
from tests.support.server import collector_command, served
from tests.support.wirelog import Replay, calls
from tests.support.xlsform import HH_REGISTRATION, HH_VISIT, PROFILE, md_to_xlsx

pytestmark = pytest.mark.slow

EMAIL = "admin@example.org"
PASSWORD = "a long admin passphrase"
PSEUDONYM = r"^P[0-9A-Z]{3}(-[0-9A-Z]{4}){4}$"
PEOPLE = [
    ("Zübeyde Karagöz", "+90 541 777 12 34", "U98765432", ("Kıvılcım Karagöz", "Ali Karagöz")),
    ("عبد الرحمن الزهراني", "+963 933 456 789", "N77665544", ()),
]


@dataclass
class Live:
    origin: str
    env: dict[str, str]
    tmp: Path
    log: Path


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*collector_command(), *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("pyodk")
    with fresh_database(tmp) as url:
        env = {
            "COLLECTOR_DATA_DIR": str(tmp / "data"),
            "COLLECTOR_DATABASE_URL": url,
            "COLLECTOR_RSA_BITS": "2048",
            "COLLECTOR_MASTER_KEY": "",
        }
        run_cli(env, "init")
        run_cli(
            env, "users", "create", EMAIL, "--role", "admin", "--password-stdin", stdin=PASSWORD
        )
        log = tmp / "server.log"
        with served(env, "--workers", "2", log=log) as (origin, _process):
            yield Live(origin, env, tmp, log)


def client_for(live: Live, name: str, project_id: int | None = None) -> Client:
    home = live.tmp / name
    home.mkdir(exist_ok=True)
    config = home / "pyodk_config.toml"
    default = f"default_project_id = {project_id}\n" if project_id else ""
    config.write_text(
        f'[central]\nbase_url = "{live.origin}"\nusername = "{EMAIL}"\n'
        f'password = "{PASSWORD}"\n{default}'
    )
    return Client(config_path=str(config), cache_path=str(home / "pyodk_cache.toml"))


def wait_processed(client: Client, project_id: int, form_id: str, count: int) -> list[Any]:
    """Poll the API until ``count`` submissions are processed (the worker runs in the server)."""
    deadline = time.monotonic() + 90
    rows: list[Any] = []
    while time.monotonic() < deadline:
        rows = client.get(f"projects/{project_id}/forms/{form_id}/submissions").json()
        if len(rows) >= count and all(r["status"] != "received" for r in rows):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"not processed in time: {rows}")


def collect_uploads(server_url: str) -> list[str]:
    """Encrypt and send the planted profiles as ODK Collect does; return their instanceIDs."""
    collect = CollectClient(server_url)
    [listed] = collect.form_list()
    form_xml = collect.download(listed)
    ids = []
    for name, phone, passport, members in PEOPLE:
        iid = f"uuid:{uuid.uuid4()}"
        xml = instance_xml("profile", listed.version, profile(name, phone, passport, members), iid)
        media = [("doc.jpg", b"\xff\xd8 scan of " + passport.encode())]
        sealed = collect.seal(form_xml, "profile", listed.version, xml, media, instance_id=iid)
        assert collect.post(sealed).status_code == 201
        ids.append(iid)
    return ids


def test_pyodk_walks_a_survey_end_to_end(live: Live) -> None:
    with client_for(live, "walk") as client:
        created = client.post("projects", json={"name": "Profiling"})
        assert created.status_code == 200, created.text
        project_id = created.json()["id"]
        client.project_id = project_id
        client.forms.default_project_id = project_id
        assert [p.name for p in client.projects.list()] == ["Profiling"]
        assert client.projects.get(project_id).keyId is not None
        xlsx = live.tmp / "profile.xlsx"
        xlsx.write_bytes(md_to_xlsx(PROFILE))
        form = client.forms.create(definition=xlsx, project_id=project_id)
        assert form.xmlFormId == "profile"
        published = client.forms.get("profile", project_id=project_id)
        assert published.publishedAt is not None
        assert published.keyId is not None
        [user] = client.projects.create_app_users(
            display_names=["Tablet 1"], forms=["profile"], project_id=project_id
        )
        assert user.token is not None
        server_url = f"{live.origin}/v1/key/{user.token}/projects/{project_id}"
        ids = collect_uploads(server_url)
        rows = wait_processed(client, project_id, "profile", len(ids))
        assert {r["status"] for r in rows} == {"processed"}
        listed = client.submissions.list(form_id="profile", project_id=project_id)
        assert sorted(s.instanceId for s in listed) == sorted(ids)
        one = client.submissions.get(ids[0], form_id="profile", project_id=project_id)
        assert one.submitterId == user.id
        assert one.deviceId
        _read_tables(client, project_id, ids)
        _review_and_comment(client, project_id, ids[0])
        _export(client, project_id, ids)


def _read_tables(client: Client, project_id: int, ids: list[str]) -> None:
    table = client.submissions.get_table(
        form_id="profile", project_id=project_id, expand="*", count=True
    )
    assert table["@odata.count"] == len(ids)
    by_id = {r["__id"]: r for r in table["value"]}
    assert set(by_id) == set(ids)
    first = by_id[ids[0]]
    assert first["full_name"]
    assert first["full_name"] != PEOPLE[0][0]
    assert re.match(PSEUDONYM, first["full_name"])
    assert len(first["household"]) == 2
    household = client.submissions.get_table(
        form_id="profile", project_id=project_id, table_name="Submissions.household"
    )
    assert len(household["value"]) == 2
    text = json.dumps([table, household], ensure_ascii=False)
    for name, phone, passport, members in PEOPLE:
        for secret in (name, phone, passport, *members):
            assert secret not in text


def _review_and_comment(client: Client, project_id: int, iid: str) -> None:
    ids = {"form_id": "profile", "project_id": project_id}
    client.submissions.review(iid, "hasIssues", comment="check the household", **ids)
    client.submissions.add_comment(iid, "household confirmed", **ids)
    comments = list(client.submissions.list_comments(iid, **ids))
    # Newest first, as Central lists them.
    assert [c.body for c in comments] == ["household confirmed", "check the household"]
    client.submissions.review(iid, "approved", **ids)
    assert client.submissions.get(iid, **ids).reviewState == "approved"
    audits = client.get("audits", params={"action": "submission.review"}).json()
    assert [a["details"]["after"] for a in audits if a["acteeId"] == iid] == [
        "approved",
        "hasIssues",
    ]


def _export(client: Client, project_id: int, ids: list[str]) -> None:
    answer = client.get(f"projects/{project_id}/forms/profile/submissions.csv.zip")
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = archive.namelist()
        tables = [n for n in names if not n.startswith("media/")]
        text = b"".join(archive.read(n) for n in tables).decode()
    assert "profile.csv" in names
    assert all(iid in text for iid in ids)
    for name, phone, passport, members in PEOPLE:
        for secret in (name, phone, passport, *members):
            assert secret not in text


def test_pyodk_creates_and_edits_submissions_as_sealed_plaintext(live: Live) -> None:
    with client_for(live, "create") as client:
        project_id = client.post("projects", json={"name": "Direct"}).json()["id"]
        xlsx = live.tmp / "simple.xlsx"
        xlsx.write_bytes(md_to_xlsx(SIMPLE))
        client.forms.create(definition=xlsx, project_id=project_id)
        photo = live.tmp / "p.jpg"
        photo.write_bytes(b"\xff\xd8 not much of a photo")
        ids = {"form_id": "simple", "project_id": project_id}
        xml = simple_instance("uuid:p1", names=("Nilüfer Demir",), photo="p.jpg").decode()
        made = client.submissions.create(xml=xml, device_id="laptop", attachments=[photo], **ids)
        assert made.instanceId == "uuid:p1"
        assert [(a.name, a.exists) for a in made.attachments or []] == [("p.jpg", True)]
        edited = simple_instance("uuid:p2", place="Mersin", deprecated="uuid:p1").decode()
        client.submissions.edit("uuid:p1", edited, comment="moved", **ids)
        rows = wait_processed(client, project_id, "simple", 1)
        assert rows[0]["reviewState"] == "edited"
        table = client.submissions.get_table(**ids)["value"]
        assert len(table) == 1


def test_the_wire_log_replays_with_real_data(live: Live) -> None:
    recorded = calls()
    replay = Replay(live.origin, EMAIL, PASSWORD)
    for call in recorded:
        for request in call["requests"]:
            response = replay.send(call["call"], request)
            wanted = call.get("error")
            assert (response.status_code >= 400) == bool(wanted), (
                call["call"],
                request["method"],
                request["path"],
                response.status_code,
                response.text[:500],
            )
            replay.learn(call["call"], request, response)
    assert replay.sent == sum(len(c["requests"]) for c in recorded)
    # Logging out by token puts the token in a URL: the access log must not keep it.
    bye = replay.http.delete(f"{live.origin}/v1/sessions/{replay.token}")
    assert bye.status_code == 401  # no Authorization header: nobody to log out as
    headers = {"Authorization": f"Bearer {replay.token}"}
    out = replay.http.delete(f"{live.origin}/v1/sessions/{replay.token}", headers=headers)
    assert out.status_code == 200
    time.sleep(0.5)  # gunicorn writes access lines after the answer
    log = live.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert replay.token not in log
    assert "/v1/sessions/***" in log


def new_entity_list(
    client: Client, project: str, name: str, properties: tuple[str, ...]
) -> dict[str, Any]:
    """Create a project and an entity list in it through pyodk; return the list's arguments."""
    project_id = client.post("projects", json={"name": project}).json()["id"]
    client.entities.default_project_id = project_id
    names = {"entity_list_name": name, "project_id": project_id}
    client.entity_lists.create(**names)
    for prop in properties:
        client.entity_lists.add_property(name=prop, **names)
    return names


def test_pyodk_pages_entities_and_merges_empty_properties_idempotently(live: Live) -> None:
    with client_for(live, "entities") as client:
        names = new_entity_list(client, "Plots", "plots", ("crop", "notes"))
        # Created without notes: the feed must give '' for it, as Central does.
        source = [{"label": label, "crop": "maize"} for label in ("A", "B", "C")]
        client.entities.create_many(data=source, **names)
        page = client.entities.get_table(**names, top=1, count=True)
        assert page["@odata.count"] == 3
        labels = [r["label"] for r in page["value"]]
        while "@odata.nextLink" in page:
            answer = client.session.get(page["@odata.nextLink"])
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert len(page["value"]) == 1
            labels += [r["label"] for r in page["value"]]
        assert labels == ["C", "B", "A"]  # newest first, every entity once
        merged = client.entities.merge(
            [{**row, "notes": ""} for row in source], entity_list_name="plots"
        )
        assert (merged.to_insert, merged.to_update, merged.to_delete) == ({}, {}, {})
        rows = client.entities.get_table(**names)["value"]
        assert [r["__system"]["version"] for r in rows] == [1, 1, 1]
        assert {r["notes"] for r in rows} == {""}


def test_pyodk_reads_entities_a_tablet_registered(live: Live) -> None:
    """pyodk publishes a registration form; Collect sends an encrypted registration; the
    server's own workers create the entity; pyodk reads it back without the name."""
    with client_for(live, "registrations") as client:
        project_id = client.post("projects", json={"name": "Households"}).json()["id"]
        client.forms.default_project_id = client.entities.default_project_id = project_id
        xlsx = live.tmp / "hh_reg.xlsx"
        xlsx.write_bytes(md_to_xlsx(HH_REGISTRATION))
        assert client.forms.create(definition=xlsx, project_id=project_id).xmlFormId == "hh_reg"
        [listed_list] = client.entity_lists.list(project_id=project_id)
        assert listed_list.name == "households"
        assert [p.name for p in listed_list.properties or []] == ["village", "born", "hh_size"]
        [user] = client.projects.create_app_users(
            display_names=["Tablet 2"], forms=["hh_reg"], project_id=project_id
        )
        collect = CollectClient(f"{live.origin}/v1/key/{user.token}/projects/{project_id}")
        [form] = collect.form_list()
        household = str(uuid.uuid4())
        iid = f"uuid:{uuid.uuid4()}"
        xml = instance_xml(
            "hh_reg",
            form.version,
            "<full_name>Hatice Demirtaş</full_name><village>Selçuk</village>"
            "<dob>1979-11-30</dob><household>6</household>",
            iid,
            f'<entity dataset="households" create="1" id="{household}">'
            "<label>HH Selçuk</label></entity>",
        )
        sealed = collect.seal(collect.download(form), "hh_reg", form.version, xml, instance_id=iid)
        assert collect.post(sealed).status_code == 201
        wait_processed(client, project_id, "hh_reg", 1)
        rows = client.entities.get_table(entity_list_name="households")["value"]
        assert [(r["__id"], r["label"], r["village"], r["born"], r["hh_size"]) for r in rows] == [
            (household, "HH Selçuk", "Selçuk", "1979", "6")
        ]
        assert "Hatice" not in json.dumps(rows, ensure_ascii=False)
        [entity] = client.entities.list(entity_list_name="households")
        assert entity.uuid == household


def test_pyodk_lists_reads_and_updates_forms_with_attachments(live: Live) -> None:
    """forms.list, get_xml, create with an attachment and the three update patterns."""
    with client_for(live, "forms") as client:
        project_id = client.post("projects", json={"name": "Forms"}).json()["id"]
        client.forms.default_project_id = project_id
        fruits = live.tmp / "fruits.csv"
        fruits.write_bytes(b"name,label\nfig,Fig\n")
        xlsx = live.tmp / "simple-forms.xlsx"
        xlsx.write_bytes(md_to_xlsx(SIMPLE))
        client.forms.create(definition=xlsx, attachments=[fruits], project_id=project_id)
        assert [f.xmlFormId for f in client.forms.list()] == ["simple"]
        xml = client.forms.get_xml("simple")
        assert isinstance(xml, str)
        assert 'version="1"' in xml
        assert "base64RsaPublicKey" in xml

        def attachment() -> dict[str, Any]:
            [found] = client.get(f"projects/{project_id}/forms/simple/attachments").json()
            return dict(found)

        assert attachment()["exists"] is True
        first_hash = attachment()["hash"]
        fruits.write_bytes(b"name,label\nfig,Fig\nquince,Quince\n")
        # Attachments only: pyodk names the new version after the current time.
        client.forms.update("simple", attachments=[fruits])
        stamped = client.forms.get("simple").version
        assert stamped != "1"
        assert attachment()["hash"] not in (None, first_hash)
        client.forms.update("simple", attachments=[fruits], version_updater=lambda v: v + "-b")
        assert client.forms.get("simple").version == stamped + "-b"
        second = live.tmp / "simple-2.xlsx"
        second.write_bytes(
            md_to_xlsx(SIMPLE.replace("| simple  | 1       |", "| simple  | 2       |"))
        )
        client.forms.update("simple", definition=second)
        assert client.forms.get("simple").version == "2"
        assert 'version="2"' in str(client.forms.get_xml("simple"))
        # The attachment uploaded for an earlier version is carried over to the new one.
        assert attachment()["exists"] is True
        versions = client.get(f"projects/{project_id}/forms/simple/versions").json()
        assert [v["version"] for v in versions] == ["2", stamped + "-b", stamped, "1"]
        # The same version again is refused, and the published form is unchanged.
        with pytest.raises(PyODKError):
            client.forms.update("simple", definition=second)
        assert client.forms.get("simple").version == "2"


def test_pyodk_creates_updates_and_deletes_one_entity(live: Live) -> None:
    with client_for(live, "entity") as client:
        names = new_entity_list(client, "Trees", "trees", ("height",))
        listed = client.entity_lists.get(**names)
        assert listed.name == "trees"
        assert [p.name for p in listed.properties or []] == ["height"]
        made = client.entities.create(label="Çınar", data={"height": "12"}, **names)
        assert made.currentVersion.version == 1
        assert made.currentVersion.label == "Çınar"
        assert made.currentVersion.data == {"height": "12"}
        updated = client.entities.update(
            made.uuid, label="Çınar ağacı", data={"height": "13"}, base_version=1, **names
        )
        assert (updated.currentVersion.version, updated.currentVersion.label) == (
            2,
            "Çınar ağacı",
        )
        # A stale base version is a conflict and changes nothing; force overrides it.
        with pytest.raises(PyODKError):
            client.entities.update(made.uuid, data={"height": "99"}, base_version=1, **names)
        forced = client.entities.update(made.uuid, data={"height": "14"}, force=True, **names)
        assert forced.currentVersion.version == 3
        [row] = client.entities.get_table(**names)["value"]
        assert (row["__id"], row["label"], row["height"]) == (made.uuid, "Çınar ağacı", "14")
        assert row["__system"]["version"] == 3
        unknown = str(uuid.uuid4())
        with pytest.raises(PyODKError):
            client.entities.update(unknown, data={"height": "1"}, force=True, **names)
        assert client.entities.delete(made.uuid, **names) is True
        assert client.entities.list(**names) == []
        assert client.entities.get_table(**names)["value"] == []
        with pytest.raises(PyODKError):
            client.entities.delete(made.uuid, **names)


def test_pyodk_sees_and_resolves_a_conflict_two_tablets_made(live: Live) -> None:
    """Two tablets visit the same household offline, both from its first version: the later
    visit still applies and flags the entity; pyodk reads the flag (its Entity model and the
    OData feed) and the history, and a data manager's resolution clears it."""
    with client_for(live, "conflicts") as client:
        project_id = client.post("projects", json={"name": "Visits"}).json()["id"]
        client.forms.default_project_id = client.entities.default_project_id = project_id
        for name, md in (("hh_reg", HH_REGISTRATION), ("hh_visit", HH_VISIT)):
            xlsx = live.tmp / f"{name}-conflicts.xlsx"
            xlsx.write_bytes(md_to_xlsx(md))
            assert client.forms.create(definition=xlsx, project_id=project_id).xmlFormId == name
        [user] = client.projects.create_app_users(
            display_names=["Team"], forms=["hh_reg", "hh_visit"], project_id=project_id
        )
        collect = CollectClient(f"{live.origin}/v1/key/{user.token}/projects/{project_id}")
        forms = {f.form_id: f for f in collect.form_list()}
        household = str(uuid.uuid4())

        def send(form_id: str, values: str, entity: str) -> None:
            listed, iid = forms[form_id], f"uuid:{uuid.uuid4()}"
            xml = instance_xml(form_id, listed.version, values, iid, entity)
            sealed = collect.seal(
                collect.download(listed), form_id, listed.version, xml, instance_id=iid
            )
            assert collect.post(sealed).status_code == 201

        send(
            "hh_reg",
            "<full_name>Hatice Demirtaş</full_name><village>Selçuk</village>"
            "<dob>1979-11-30</dob><household>6</household>",
            f'<entity dataset="households" create="1" id="{household}"><label>HH</label></entity>',
        )
        wait_processed(client, project_id, "hh_reg", 1)
        visit = f'<entity dataset="households" id="{household}" update="1" baseVersion="1">'
        for n, size in enumerate((7, 5), start=1):
            send(
                "hh_visit",
                f"<household_id>{household}</household_id><status>visited</status>"
                f"<household>{size}</household>",
                visit + "<label></label></entity>",
            )
            wait_processed(client, project_id, "hh_visit", n)
        names = {"entity_list_name": "households", "project_id": project_id}
        [entity] = client.entities.list(**names)
        # Both tablets changed the size from its first version: the second is a hard conflict.
        assert entity.conflict == "hard"
        assert entity.currentVersion.version == 3
        assert entity.currentVersion.data["hh_size"] == "5"
        [row] = client.entities.get_table(filter="__system/conflict eq 'hard'", **names)["value"]
        assert row["__id"] == household
        history = client.get(
            f"projects/{project_id}/datasets/households/entities/{household}/versions"
        ).json()
        assert [(v["version"], v["conflict"]) for v in history] == [
            (1, None),
            (2, None),
            (3, "hard"),
        ]
        assert history[2]["conflictingProperties"] == ["hh_size"]
        resolved = client.patch(
            f"projects/{project_id}/datasets/households/entities/{household}",
            params={"resolve": "true", "baseVersion": "3"},
        )
        assert resolved.status_code == 200, resolved.text
        [entity] = client.entities.list(**names)
        assert entity.conflict is None
        assert (
            client.entities.get_table(filter="__system/conflict eq 'hard'", **names)["value"] == []
        )
