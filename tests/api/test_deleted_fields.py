"""Central's ``deletedFields`` export option over HTTP and on the command line."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from api.config import Instance, Settings
from collector import publishing
from collector.db import transaction
from tests.api.test_submission_media import submit_to_newest
from tests.support.central import Central
from tests.support.pipeline import process_all, publish, submit
from tests.support.xlsform import md_to_xlsx

FORM = """
| survey   |
|          | type | name    | label   | pii        |
|          | text | town    | Town    |            |
{rows}
| settings |
|          | form_id | version   |
|          | moves   | {version} |
"""
FIRST = """\
|          | text | contact | Contact | identifier |
|          | text | route   | Route   |            |"""
SECOND = """\
|          | text | camp    | Camp    |            |"""


def _root(zipped: bytes) -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        return list(csv.DictReader(io.StringIO(archive.read("moves.csv").decode())))


def test_exports_over_http_take_deleted_fields(central: Central) -> None:
    project = central.project("Moves")
    form = central.publish(project, FORM.format(rows=FIRST, version="1"))
    submit_to_newest(central, "<town>Van</town><contact>Halil Ş</contact><route>Iran</route>", [])
    central.publish(project, FORM.format(rows=SECOND, version="2"))
    submit_to_newest(central, "<town>Kars</town><camp>B</camp>", [])
    central.drain()
    _id, manager = central.user("dm@example.org", "data-manager", projects=(project,))
    api, base = central.api(manager), f"/v1/projects/{project}/forms/{form}"

    current = api.get(f"{base}/submissions.csv.zip")
    assert current.status_code == 200
    assert "route" not in _root(current.data)[0]
    for response in (
        api.get(f"{base}/submissions.csv.zip?deletedFields=true"),
        api.post(f"{base}/submissions.csv.zip", json={"deletedFields": True}),
    ):
        assert response.status_code == 200
        rows = {r["town"]: r for r in _root(response.data)}
        assert rows["Van"]["route"] == "Iran"
        assert rows["Kars"]["route"] == ""
        assert rows["Van"]["contact"].startswith("P")
        assert b"Halil" not in response.data
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            summary = json.loads(archive.read("summary.json"))
        assert summary["deleted_columns"] == ["contact", "route"]
    # The root table alone, and an option left at Central's default, as asked.
    root = api.get(f"{base}/submissions.csv?deletedFields=true")
    assert root.status_code == 200
    assert "route" in root.data.decode().splitlines()[0].split(",")
    assert (
        api.get(f"{base}/submissions.csv?deletedFields=false").data
        == api.get(f"{base}/submissions.csv").data
    )
    jsonl = api.get(f"{base}/submissions.jsonl?deletedFields=true").data.decode().splitlines()
    assert [json.loads(line).get("route") for line in jsonl[:-1]] == ["Iran", None]


def test_cli_export_takes_deleted_fields(cli: Any, cli_env: dict[str, str], tmp_path: Path) -> None:
    settings = Settings(
        data_dir=Path(cli_env["COLLECTOR_DATA_DIR"]),
        database_url=cli_env["COLLECTOR_DATABASE_URL"],
        rsa_bits=2048,
    )
    with Instance(settings, create=True) as instance:
        with transaction(instance.sessions) as session:
            first = publish(session, instance.kek, FORM.format(rows=FIRST, version="1"))
            project = first.form.project_id
        with instance.sessions() as session:
            submit(session, first, "<town>Van</town><contact>Halil Ş</contact><route>Iran</route>")
            session.commit()
        with transaction(instance.sessions) as session:
            publishing.publish_xlsform(
                session, project, md_to_xlsx(FORM.format(rows=SECOND, version="2"))
            )
        process_all(instance.sessions, instance.kek)

    def header(*options: str) -> list[str]:
        out = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.csv.zip"
        args = ("export", "--project", str(project), "--form", "moves", "--out", str(out))
        result = cli(*args, *options)
        assert result.exit_code == 0, result.output
        return list(_root(out.read_bytes())[0])

    assert "route" not in header()
    revived = header("--deleted-fields")
    assert revived[revived.index("camp") + 1 : revived.index("KEY")] == [
        "meta-instanceID",
        "contact",
        "route",
    ]
