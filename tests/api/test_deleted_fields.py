"""Central's ``deletedFields`` export option over HTTP and on the command line (the merge
itself and what each format makes of it: tests/collector/test_export.py)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from api.config import Instance
from collector import publishing
from collector.db import transaction
from tests.api.test_submission_media import submit_to_newest
from tests.collector.test_export import CHANGING, CHANGING_V1, CHANGING_V2
from tests.support.central import Central
from tests.support.pipeline import process_all, publish, submit
from tests.support.xlsform import md_to_xlsx

FIRST = CHANGING.format(rows=CHANGING_V1, version="1")
SECOND = CHANGING.format(rows=CHANGING_V2, version="2")
EARLIER = "<town>Van</town><contact>Halil Ş</contact><story>by boat</story>"


def _root(zipped: bytes) -> list[dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        return list(csv.DictReader(io.StringIO(archive.read("changing.csv").decode())))


def test_exports_over_http_take_deleted_fields(central: Central) -> None:
    project = central.project("Moves")
    form = central.publish(project, FIRST)
    submit_to_newest(central, EARLIER, [])
    central.publish(project, SECOND)
    submit_to_newest(central, "<town>Kars</town><size>3</size>", [])
    central.drain()
    _id, manager = central.user("dm@example.org", "data-manager", projects=(project,))
    api, base = central.api(manager), f"/v1/projects/{project}/forms/{form}"

    current = api.get(f"{base}/submissions.csv.zip")
    assert current.status_code == 200
    assert "contact" not in _root(current.data)[0]
    for response in (
        api.get(f"{base}/submissions.csv.zip?deletedFields=true"),
        api.post(f"{base}/submissions.csv.zip", json={"deletedFields": True}),
    ):
        assert response.status_code == 200
        rows = {r["town"]: r for r in _root(response.data)}
        assert rows["Van"]["contact"].startswith("P")
        assert rows["Kars"]["contact"] == ""
        assert b"Halil" not in response.data
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            summary = json.loads(archive.read("summary.json"))
        assert summary["deleted_columns"] == ["contact", "story", "trip-stop"]
    # The root table alone, and the option at Central's default, as asked.
    root = api.get(f"{base}/submissions.csv?deletedFields=true")
    assert root.status_code == 200
    assert "contact" in root.data.decode().splitlines()[0].split(",")
    plain = api.get(f"{base}/submissions.csv").data
    assert api.get(f"{base}/submissions.csv?deletedFields=false").data == plain
    jsonl = api.get(f"{base}/submissions.jsonl?deletedFields=true").data.decode().splitlines()
    assert [json.loads(line).get("size") for line in jsonl[:-1]] == [None, "3"]
    assert [bool(json.loads(line).get("contact")) for line in jsonl[:-1]] == [True, False]


def test_cli_export_takes_deleted_fields(cli: Any, cli_instance: Instance, tmp_path: Path) -> None:
    instance = cli_instance
    with transaction(instance.sessions) as session:
        first = publish(session, instance.kek, FIRST)
        project = first.form.project_id
    with instance.sessions() as session:
        submit(session, first, EARLIER)
        session.commit()
    with transaction(instance.sessions) as session:
        publishing.publish_xlsform(session, project, md_to_xlsx(SECOND))
    process_all(instance.sessions, instance.kek)

    def header(*options: str) -> list[str]:
        out = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.csv.zip"
        args = ("export", "--project", str(project), "--form", "changing", "--out", str(out))
        result = cli(*args, *options)
        assert result.exit_code == 0, result.output
        return list(_root(out.read_bytes())[0])

    assert "contact" not in header()
    revived = header("--deleted-fields")
    assert revived[revived.index("size") + 1 : revived.index("KEY")] == [
        "meta-instanceID",
        "contact",
        "story",
    ]
