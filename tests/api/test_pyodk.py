"""pyodk 1.3.0 against a live ``collector serve`` on loopback, and every request it makes, replayed.

The server is the real command (gunicorn, two workers with their decryption threads) on a fresh
data dir and database, set up with ``collector init`` and ``collector users create``. pyodk
reads its config from a temp dir. The first test walks a survey's life: log in, create a
project, upload an XLSForm, create an app user, encrypt submissions as Collect does, read them
back (metadata, OData tables with pseudonyms and repeats), comment, review, edit. The second
replays ``../shared/reference/pyodk_wire_log.json`` request by request (method, path, query,
headers, body), with ids and placeholder bodies replaced by real ones, and asserts each answer.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from pyodk.client import Client

from forms.build import build_xform
from tests.collector.test_vault import profile
from tests.conftest import ROOT
from tests.support.central import SIMPLE, fresh_database, simple_instance
from tests.support.collect import CollectClient
from tests.support.pipeline import instance_xml
from tests.support.server import collector_command, served
from tests.support.xlsform import FIELD_VISIT, PROFILE, md_to_xlsx

pytestmark = pytest.mark.slow

WIRE_LOG = ROOT.parent / "shared" / "reference" / "pyodk_wire_log.json"
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
    assert [c.body for c in comments] == ["check the household", "household confirmed"]
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
        text = b"".join(archive.read(n) for n in names).decode()
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
    calls = json.loads(WIRE_LOG.read_text(encoding="utf-8"))
    replay = Replay(live)
    for call in calls:
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
    assert replay.sent == sum(len(c["requests"]) for c in calls)
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


XFORM_WITH_FRUITS = (
    '<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
    "<h:head><h:title>Fruit</h:title><model>"
    '<instance><data id="fruit" version="1"><pick/><meta><instanceID/></meta></data></instance>'
    '<instance id="fruits" src="jr://file-csv/fruits.csv"/>'
    '<bind nodeset="/data/pick" type="string"/><bind nodeset="/data/meta/instanceID" '
    'type="string"/></model></h:head><h:body><input ref="/data/pick"><label>Pick</label>'
    "</input></h:body></h:html>"
)


@dataclass
class Replay:
    """Sends recorded requests with this server's ids and real bodies, and learns ids back."""

    live: Live
    http: requests.Session = field(default_factory=requests.Session)
    token: str = ""
    project: int = 0
    sent: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.token = self._login()
        self.project = self._post("projects", {"name": "Replay"})["id"]
        api = f"projects/{self.project}"
        self._upload_form(md_to_xlsx(SIMPLE))
        self.ids["existing"] = f"uuid:{uuid.uuid4()}"
        self._raw("POST", f"{api}/forms/simple/submissions", simple_instance(self.ids["existing"]))
        self.ids["new"], self.ids["edit"] = f"uuid:{uuid.uuid4()}", f"uuid:{uuid.uuid4()}"
        self._post(f"{api}/datasets", {"name": "trees"})
        self._post(f"{api}/datasets/trees/properties", {"name": "a"})
        self.ids["e2"] = self._post(f"{api}/datasets/trees/entities", {"label": "D", "data": {}})[
            "uuid"
        ]

    def _login(self) -> str:
        answer = self.http.post(
            f"{self.live.origin}/v1/sessions", json={"email": EMAIL, "password": PASSWORD}
        )
        assert answer.status_code == 200
        token: str = answer.json()["token"]
        return token

    def _raw(self, method: str, path: str, body: bytes) -> requests.Response:
        return self.http.request(
            method,
            f"{self.live.origin}/v1/{path}",
            data=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/xml"},
        )

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.http.post(
            f"{self.live.origin}/v1/{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def _upload_form(self, xlsx: bytes) -> None:
        answer = self.http.post(
            f"{self.live.origin}/v1/projects/{self.project}/forms?publish=true&ignoreWarnings=true",
            data=xlsx,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            },
        )
        assert answer.status_code == 200, answer.text

    def _form_for(self, call: str) -> str:
        return {
            "forms.create(xml str, attachments)": "fruit",
            "forms.create(xlsx path)": self.ids.get("xlsx form", "field_visit"),
        }.get(call, "simple")

    def _instance_for(self, call: str) -> str:
        return self.ids["existing"] if call == "submissions.get" else self.ids["new"]

    def _entity_for(self, call: str, name: str) -> str:
        if name == "e2":
            return self.ids["e2"]
        return self.ids["merge e1"] if call == "entities.merge" else self.ids["A"]

    def path(self, call: str, path: str) -> str:
        path = path.replace("/v1/projects/1", f"/v1/projects/{self.project}", 1)
        path = path.replace("/forms/simple", f"/forms/{self._form_for(call)}")
        path = path.replace("uuid%3A1", self._instance_for(call).replace(":", "%3A"))
        path = path.replace("/assignments/2/10", f"/assignments/2/{self.ids.get('app user')}")
        for name in ("e1", "e2"):
            if path.endswith(f"/entities/{name}"):
                path = path[: -len(name)] + self._entity_for(call, name)
        return path

    def body(self, call: str, request: dict[str, Any]) -> bytes:
        recorded: bytes = request["body"].encode("utf-8", "surrogateescape")
        method, path = request["method"], request["path"]
        if call.startswith("Client.__enter__"):
            return json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
        if path.endswith("/v1/projects/1/forms") and call == "forms.create(xml str, attachments)":
            return XFORM_WITH_FRUITS.encode()
        if path.endswith("/v1/projects/1/forms"):
            return md_to_xlsx(FIELD_VISIT)
        if call == "forms.update(definition)" and path.endswith("/draft"):
            return build_xform(md_to_xlsx(SIMPLE), version="2").xml
        if call == "submissions.create" and path.endswith("/submissions"):
            return simple_instance(self.ids["new"], names=("Ayşe",), photo="photo.jpg")
        if call == "submissions.edit" and method == "PUT":
            return simple_instance(self.ids["edit"], deprecated=self.ids["new"])
        if call == "entity_lists.create":
            return json.dumps({"name": "saplings", "approvalRequired": False}).encode()
        return recorded

    def send(self, call: str, request: dict[str, Any]) -> requests.Response:
        headers = {k: v for k, v in request["headers"].items() if k != "Content-Length"}
        headers["Authorization"] = f"Bearer {self.token}"
        body = self.body(call, request)
        chunked = headers.pop("Transfer-Encoding", None) == "chunked"
        url = self.live.origin + self.path(call, request["path"])
        if request["raw_query"]:
            url += "?" + request["raw_query"]
        data: Any = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
        self.sent += 1
        return self.http.request(request["method"], url, data=data or None, headers=headers)

    def learn(self, call: str, request: dict[str, Any], response: requests.Response) -> None:
        if call.startswith("Client.__enter__"):
            self.token = response.json()["token"]
        elif (
            call == "projects.create_app_users"
            and request["method"] == "POST"
            and "app-users" in request["path"]
        ):
            self.ids["app user"] = str(response.json()["id"])
        elif call == "forms.create(xlsx path)" and request["path"].endswith("/forms"):
            self.ids["xlsx form"] = response.json()["xmlFormId"]
        elif call == "entities.create":
            self.ids["A"] = response.json()["uuid"]
        elif call == "entities.create_many":
            listed = self.http.get(
                f"{self.live.origin}/v1/projects/{self.project}/datasets/trees/entities",
                headers={"Authorization": f"Bearer {self.token}"},
            ).json()
            self.ids["merge e1"] = next(
                e["uuid"] for e in listed if e["currentVersion"]["label"] == "B"
            )
