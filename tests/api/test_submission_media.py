"""Downloading the decrypted files of an encrypted submission, by the PII rule of their question."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from api.config import Instance
from collector.db import transaction
from collector.models import FormVersion
from tests.support.central import Central
from tests.support.pipeline import process_all, publish, submit

MEDIA_FORM = """
| survey   |
|          | type  | name          | label          | pii       |
|          | text  | place         | Place          |           |
|          | image | site_photo    | Site photo     |           |
|          | image | document_scan | Document scan  | sensitive |
|          | image | scratch       | Scratch        | drop      |
| settings |
|          | form_id | version | form_title |
|          | media   | 1       | Media      |
"""
SITE = b"\xff\xd8\xff site photo bytes"
SCAN = b"\xff\xd8\xff planted passport scan"
SCRATCH = b"\xff\xd8\xff scratch bytes"
VALUES = (
    "<place>Van</place><site_photo>site.jpg</site_photo>"
    "<document_scan>scan.jpg</document_scan><scratch>scratch.jpg</scratch>"
)


def submit_to_newest(
    central: Central, values: str, media: list[tuple[str, bytes]], meta: str = ""
) -> str:
    """Seal and receive a submission to the form version published last."""
    with central.session() as session:
        version = session.scalars(select(FormVersion).order_by(FormVersion.id.desc())).first()
        assert version is not None
        instance_id = submit(session, version, values, media=media, meta=meta)
        session.commit()
    return instance_id


@pytest.fixture
def world(central: Central) -> tuple[Central, str, str, str, int]:
    project = central.project("Media")
    form = central.publish(project, MEDIA_FORM)
    _id, admin = central.user("admin@example.org", "admin")
    manager_id, manager = central.user("dm@example.org", "data-manager", projects=(project,))
    media = [("site.jpg", SITE), ("scan.jpg", SCAN), ("scratch.jpg", SCRATCH)]
    instance_id = submit_to_newest(central, VALUES, media)
    base = f"/v1/projects/{project}/forms/{form}/submissions/{instance_id.replace(':', '%3A')}"
    return central, base, admin, manager, manager_id


def test_files_are_served_once_processed_by_the_rule_of_their_question(
    world: tuple[Central, str, str, str, int],
) -> None:
    central, base, admin, manager, manager_id = world
    waiting = central.api(admin).get(f"{base}/attachments/site.jpg")
    assert waiting.status_code == 409
    assert waiting.get_json()["details"]["state"] == "received"
    central.drain()

    plain = central.api(manager).get(f"{base}/attachments/site.jpg")
    assert plain.status_code == 200
    assert plain.data == SITE
    assert plain.mimetype == "image/jpeg"
    assert plain.headers["Content-Disposition"] == "attachment; filename*=UTF-8''site.jpg"
    assert plain.headers["Cache-Control"] == "private, no-store"

    refused = central.api(manager).get(f"{base}/attachments/scan.jpg")
    assert refused.status_code == 403
    assert SCAN not in refused.data
    with central.session() as session:
        last = session.execute(
            text("SELECT action, actor_id FROM audit_log ORDER BY id DESC LIMIT 1")
        ).one()
    assert tuple(last) == ("auth.denied", manager_id)

    opened = central.api(admin).get(f"{base}/attachments/scan.jpg")
    assert opened.status_code == 200
    assert opened.data == SCAN

    dropped = central.api(admin).get(f"{base}/attachments/scratch.jpg")
    assert dropped.status_code == 404
    assert "PII policy" in dropped.get_json()["message"]
    assert central.api(admin).get(f"{base}/attachments/other.jpg").status_code == 404


def test_every_download_is_audited_without_its_content(
    world: tuple[Central, str, str, str, int],
) -> None:
    central, base, admin, manager, _manager_id = world
    central.drain()
    assert central.api(manager).get(f"{base}/attachments/site.jpg").status_code == 200
    assert central.api(admin).get(f"{base}/attachments/scan.jpg").status_code == 200
    with central.session() as session:
        rows = session.execute(
            text(
                "SELECT details FROM audit_log WHERE action = 'submission.attachment.read' "
                "ORDER BY id"
            )
        ).all()
    details = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]
    assert [(d["name"], d["protected"]) for d in details] == [
        ("site.jpg", False),
        ("scan.jpg", True),
    ]
    assert all(b"photo bytes" not in json.dumps(d).encode() for d in details)


def test_a_file_is_not_served_to_other_projects_or_app_users(
    world: tuple[Central, str, str, str, int],
) -> None:
    central, base, _admin, _manager, _manager_id = world
    central.drain()
    other = central.project("Other")
    _id, outsider = central.user("out@example.org", "data-manager", projects=(other,))
    assert central.api(outsider).get(f"{base}/attachments/site.jpg").status_code == 403
    assert central.api().get(f"{base}/attachments/site.jpg").status_code == 401


PEOPLE_FORM = """
| survey   |
|          | type         | name        | label        | pii        |
|          | text         | place       | Place        |            |
|          | image        | face        | Face         | identifier |
|          | begin repeat | visit       | Visit        |            |
|          | image        | visit_photo | Visit photo  |            |
|          | end repeat   |             |              |            |
| settings |
|          | form_id | version | form_title |
|          | people  | 1       | People     |
"""


def _zip(response: Any) -> tuple[dict[str, bytes], dict[str, Any]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist() if n.startswith("media/")}
        summary = json.loads(archive.read("summary.json"))
    return files, summary


def _export(central: Central, token: str, base: str, query: str = "") -> Any:
    forms = base.split("/submissions/")[0]
    return central.api(token).get(f"{forms}/submissions.csv.zip{query}")


def test_the_csv_zip_carries_the_files_each_reader_may_have(
    world: tuple[Central, str, str, str, int],
) -> None:
    central, base, admin, manager, _manager_id = world
    central.drain()

    files, summary = _zip(_export(central, manager, base))
    assert files == {"media/site.jpg": SITE}
    assert (summary["media_files"], summary["media_withheld"]) == (1, 1)

    files, summary = _zip(_export(central, admin, base))
    assert files == {"media/site.jpg": SITE, "media/scan.jpg": SCAN}
    assert (summary["media_files"], summary["media_withheld"]) == (2, 0)

    files, summary = _zip(_export(central, admin, base, "?attachments=false"))
    assert files == {}
    assert (summary["media_files"], summary["media_withheld"]) == (0, 0)
    with central.session() as session:
        details = [
            json.loads(d) if isinstance(d, str) else d
            for (d,) in session.execute(
                text("SELECT details FROM audit_log WHERE action = 'export.start' ORDER BY id")
            )
        ]
    assert [d["attachments"] for d in details] == [True, True, False]
    # The root table alone never carries files.
    forms = base.split("/submissions/")[0]
    root = central.api(admin).get(f"{forms}/submissions.csv")
    assert root.status_code == 200
    assert SITE not in root.data
    assert b"site.jpg" in root.data


def test_a_file_behind_a_pseudonym_goes_only_into_a_reidentified_export(
    central: Central,
) -> None:
    project = central.project("People")
    form = central.publish(project, PEOPLE_FORM)
    _id, admin = central.user("admin@example.org", "admin")
    faces, visits = [b"\xff\xd8 face of A", b"\xff\xd8 face of B"], [b"visit A", b"visit B"]
    ids = [
        submit_to_newest(
            central,
            f"<place>Van</place><face>face.jpg</face>"
            f"<visit><visit_photo>visit{n}.jpg</visit_photo></visit>",
            [("face.jpg", faces[n]), (f"visit{n}.jpg", visits[n])],
        )
        for n in range(2)
    ]
    central.drain()
    forms = f"/v1/projects/{project}/forms/{form}"

    files, summary = _zip(central.api(admin).get(f"{forms}/submissions.csv.zip"))
    # Files inside a repeat go in as the repeat's table shows them; the face is a pseudonym.
    assert files == {"media/visit0.jpg": visits[0], "media/visit1.jpg": visits[1]}
    assert (summary["media_files"], summary["media_withheld"]) == (2, 2)
    assert all(face not in b"".join(files.values()) for face in faces)

    files, summary = _zip(
        central.api(admin).get(
            f"{forms}/submissions.csv.zip?profile=reidentified&reason=tracing a family"
        )
    )
    # Both submissions named their face "face.jpg": the second goes under its instanceID.
    second = f"media/{ids[1].replace(':', '_')}/face.jpg"
    assert files == {
        "media/visit0.jpg": visits[0],
        "media/visit1.jpg": visits[1],
        "media/face.jpg": faces[0],
        second: faces[1],
    }
    assert summary["media_renamed"] == [{"instanceId": ids[1], "name": "face.jpg", "path": second}]


def test_cli_export_carries_files_unless_told_not_to(
    cli: Any, cli_instance: Instance, tmp_path: Path
) -> None:
    instance = cli_instance
    with transaction(instance.sessions) as session:
        version = publish(session, instance.kek, MEDIA_FORM)
        project = str(version.form.project_id)
    with instance.sessions() as session:
        submit(session, version, VALUES, media=[("site.jpg", SITE), ("scan.jpg", SCAN)])
        session.commit()
    process_all(instance.sessions, instance.kek)

    def exported(*options: str) -> dict[str, bytes]:
        out = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.csv.zip"
        args = ("export", "--project", project, "--form", "media", "--out", str(out), *options)
        result = cli(*args)
        assert result.exit_code == 0, result.output
        with zipfile.ZipFile(out) as archive:
            return {n: archive.read(n) for n in archive.namelist() if n.startswith("media/")}

    assert exported() == {"media/site.jpg": SITE}
    assert exported("--include-sensitive") == {"media/site.jpg": SITE, "media/scan.jpg": SCAN}
    assert exported("--no-attachments") == {}
    # --filter keeps what it matches (here: nothing is approved yet) and says it filtered.
    out = tmp_path / "filtered.csv.zip"
    args = ("export", "--project", project, "--form", "media", "--out", str(out))
    result = cli(*args, "--filter", "__system/reviewState eq 'approved'")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        summary = json.loads(archive.read("summary.json"))
    assert (summary["filtered"], summary["exported"], summary["processed"]) == (True, 0, 1)
    refused = tmp_path / "refused.csv.zip"
    bad = cli("export", "--project", project, "--form", "media", "--out", str(refused),
              "--filter", "site eq 'x'")  # fmt: skip
    assert bad.exit_code != 0
    assert "filters on __id and __system" in bad.output
    assert not refused.exists()
    assert not refused.with_name(refused.name + ".partial").exists()  # no file left behind


AUDITED_FORM = """
| survey   |
|          | type  | name      | label | pii        | parameters         |
|          | audit | audit     |       |            | track-changes=true |
|          | text  | full_name | Name  | identifier |                    |
|          | image | site      | Site  |            |                    |
| settings |
|          | form_id | version |
|          | audited | 1       |
"""


def test_an_audit_log_goes_to_admins_only(central: Central) -> None:
    """Collect's audit log can hold every answer as typed: it is never an ordinary file."""
    project = central.project("Audited")
    form = central.publish(project, AUDITED_FORM)
    _id, admin = central.user("admin@example.org", "admin")
    _mid, manager = central.user("dm@example.org", "data-manager", projects=(project,))
    log = b"event,node,start,end,old-value,new-value\nquestion,/data/full_name,1,2,,Zubeyde K\n"
    instance_id = submit_to_newest(
        central,
        "<full_name>Zubeyde K</full_name><site>site.jpg</site>",
        [("audit.csv", log), ("site.jpg", SITE)],
        meta="<audit>audit.csv</audit>",
    )
    central.drain()
    forms = f"/v1/projects/{project}/forms/{form}"
    base = f"{forms}/submissions/{instance_id.replace(':', '%3A')}/attachments"
    assert central.api(manager).get(f"{base}/audit.csv").status_code == 403
    assert central.api(manager).get(f"{base}/site.jpg").data == SITE
    assert central.api(admin).get(f"{base}/audit.csv").data == log
    files, summary = _zip(central.api(manager).get(f"{forms}/submissions.csv.zip"))
    assert files == {"media/site.jpg": SITE}
    assert summary["media_withheld"] == 1
    assert all(b"Zubeyde" not in data for data in files.values())
    files, _summary = _zip(central.api(admin).get(f"{forms}/submissions.csv.zip"))
    assert files == {"media/site.jpg": SITE, "media/audit.csv": log}
