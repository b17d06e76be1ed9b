"""Planted identifiers never reach the database, the server's logs or ordinary exports.

Profiles with distinctive names, phones and document numbers (Latin, Turkish and Arabic script)
go through the whole product: ODK Collect-style encrypted uploads to ``collector serve``,
decryption, pseudonymisation, then CSV-zip and JSON Lines exports. The same people are also
registered through a form that creates entities, whose list is then read as CSV, over OData and
as a follow-up form's data file. Every planted value is then searched for, in several
encodings, in the raw database (the SQLite file and its WAL, or a pg_dump of the schema), the
server log, the exports and the entity list.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import unicodedata
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests
from sqlalchemy import Engine, func, select

from collector.db import make_engine
from collector.models import Submission
from collector.pseudonym import normalise
from tests.collector.rawdb import raw_database_bytes
from tests.collector.test_vault import profile
from tests.support.collect import CollectClient
from tests.support.pipeline import instance_xml
from tests.support.server import collector_command, served
from tests.support.xlsform import HH_REGISTRATION, HH_VISIT, PROFILE, md_to_xlsx

PLANTED = [
    ("Zübeyde Karagöz-Işıkoğlu", "+90 541 777 12 34", "U98765432", ("Kıvılcım Işıkoğlu",)),
    ("Quentin Vandersloot", "+44 7700 900461", "QX4455667", ()),
    ("عبد الرحمن الزهراني", "+963 933 456 789", "N77665544", ("ريم الزهراني",)),
]
NARRATIVE = "Planted narrative about Yozgat crossing"


def encodings(value: str) -> set[bytes]:
    """The shapes a leaked value could take at rest."""
    forms = {value, unicodedata.normalize("NFD", value), value.casefold(), value.upper()}
    out: set[bytes] = set()
    for text in forms:
        raw = text.encode()
        out |= {
            raw,
            base64.b64encode(raw),
            text.encode("utf-16-le"),
            text.encode("utf-16-be"),
            json.dumps(text).encode(),
            quote(text).encode(),
            quote_plus(text).encode(),
        }
    return out


def secrets_of(name: str, phone: str, passport: str, members: tuple[str, ...]) -> list[str]:
    values = [
        name,
        phone,
        passport,
        *members,
        normalise(name, "name"),
        normalise(phone, "phone"),
        normalise(passport, "document"),
    ]
    return [v for v in values if len(v) >= 6]


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*collector_command(), *args],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_planted_identifiers_appear_nowhere(tmp_path: Path, database_url: str) -> None:
    env = {
        "COLLECTOR_DATA_DIR": str(tmp_path / "data"),
        "COLLECTOR_DATABASE_URL": database_url,
        "COLLECTOR_RSA_BITS": "2048",
        "COLLECTOR_MASTER_KEY": "",
    }
    run_cli(env, "init")
    project = run_cli(env, "projects", "create", "Profiling").strip()
    xlsx = tmp_path / "profile.xlsx"
    xlsx.write_bytes(md_to_xlsx(PROFILE))
    run_cli(env, "forms", "publish", str(xlsx), "--project", project)
    for name, md in (("hh_reg", HH_REGISTRATION), ("hh_visit", HH_VISIT)):
        (tmp_path / f"{name}.xlsx").write_bytes(md_to_xlsx(md))
        run_cli(env, "forms", "publish", str(tmp_path / f"{name}.xlsx"), "--project", project)
    log = tmp_path / "server.log"
    with served(env, "--workers", "1", log=log) as (origin, _process):
        out = run_cli(
            env,
            "app-users",
            "create",
            "--project",
            project,
            "Tablet",
            "--forms",
            "profile,hh_reg,hh_visit",
            "--origin",
            origin,
        )
        url = out.split("Collect server URL: ")[1].split()[0]
        client = CollectClient(url)
        listed = {f.form_id: f for f in client.form_list()}["profile"]
        form_xml = client.download(listed)
        for person in PLANTED:
            iid = f"uuid:{os.urandom(16).hex()}"
            xml = instance_xml(
                "profile", listed.version, profile(*person, narrative=NARRATIVE), iid
            )
            media = [("doc.jpg", b"\xff\xd8 scan of " + person[2].encode())]
            sealed = client.seal(
                form_xml, "profile", listed.version, xml, media=media, instance_id=iid
            )
            assert client.post(sealed).status_code == 201
        _register(client, PLANTED)
        engine = make_engine(database_url)
        deadline = time.monotonic() + 60
        with engine.connect() as connection:
            while time.monotonic() < deadline:
                done = connection.scalar(
                    select(func.count()).where(Submission.state == "processed")
                )
                if done == 2 * len(PLANTED):
                    break
                time.sleep(0.2)
        assert done == 2 * len(PLANTED)
        _search_with_odata(env, origin, project)
        entity_list = _entity_list(client, origin, project)
    csv_zip, jsonl, xlsx = (tmp_path / f"out.{f}" for f in ("csv.zip", "jsonl", "xlsx"))
    for fmt, out in (("csv.zip", csv_zip), ("jsonl", jsonl), ("xlsx", xlsx)):
        args = ("--project", project, "--form", "profile", "--format", fmt, "--out", str(out))
        run_cli(env, "export", *args)
    places = {
        "database": _dump(engine, database_url),
        "server log": log.read_bytes(),
        "csv export": _unzipped(csv_zip),
        "jsonl export": jsonl.read_bytes(),
        "xlsx export": _unzipped(xlsx),
        "entity list": entity_list,
    }
    assert entity_list.count(b"HH Village") == 3 * len(PLANTED)  # in the CSV, OData and file
    assert b"profile" in places["database"]  # The search really covers the data.
    pseudonym = json.loads(jsonl.read_text().splitlines()[0])["full_name"]
    assert pseudonym.startswith("P")
    assert pseudonym.encode() in places["xlsx export"]  # The workbook holds the rows.
    leaks = [
        (where, value)
        for person in PLANTED
        for value in [*secrets_of(*person), NARRATIVE]
        for where, data in places.items()
        if any(shape in data for shape in encodings(value))
    ]
    assert leaks == []


def _search_with_odata(env: dict[str, str], origin: str, project: str) -> None:
    """A data manager types a planted name into an OData $filter: it must not reach the log."""
    run_cli(
        env,
        "users",
        "create",
        "analyst@example.org",
        "--role",
        "admin",
        "--password-stdin",
        stdin="analyst password 1\n",
    )
    name = PLANTED[0][0]
    answer = requests.get(
        f"{origin}/v1/projects/{project}/forms/profile.svc/Submissions",
        params={"$filter": f"full_name eq '{name}'"},
        auth=("analyst@example.org", "analyst password 1"),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == []  # Stored values are pseudonyms; a name matches none.


def _register(client: CollectClient, people: list[tuple[str, str, str, tuple[str, ...]]]) -> None:
    """Register each person's household through the entity-creating form."""
    listed = {f.form_id: f for f in client.form_list()}["hh_reg"]
    form_xml = client.download(listed)
    for n, (name, _phone, _passport, _members) in enumerate(people):
        iid = f"uuid:{uuid.uuid4()}"
        values = (
            f"<full_name>{name}</full_name><village>Village {n}</village>"
            "<dob>1985-04-02</dob><household>2</household>"
        )
        entity = (
            f'<entity dataset="households" create="1" id="{uuid.uuid4()}">'
            f"<label>HH Village {n}</label></entity>"
        )
        xml = instance_xml("hh_reg", listed.version, values, iid, entity)
        sealed = client.seal(form_xml, "hh_reg", listed.version, xml, instance_id=iid)
        assert client.post(sealed).status_code == 201


def _entity_list(client: CollectClient, origin: str, project: str) -> bytes:
    """The entity list as a data manager downloads it (CSV, OData) and as Collect gets it."""
    auth = ("analyst@example.org", "analyst password 1")
    base = f"{origin}/v1/projects/{project}/datasets/households"
    got = [
        requests.get(f"{base}/entities.csv", auth=auth, timeout=30),
        requests.get(f"{base}.svc/Entities", auth=auth, timeout=30),
    ]
    manifest = client.http.get(f"{client.server_url}/forms/hh_visit/manifest", timeout=30)
    url = manifest.text.split("<downloadUrl>")[1].split("</downloadUrl>")[0]
    got.append(client.http.get(url.replace("&amp;", "&"), timeout=30))
    for answer in got:
        assert answer.status_code == 200, answer.text
    return b"".join(a.content for a in got)


def _dump(engine: Engine, database_url: str) -> bytes:
    try:
        return raw_database_bytes(engine, database_url)
    finally:
        engine.dispose()


def _unzipped(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())
