"""Downloading the decrypted files of an encrypted submission, by the PII rule of their question."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from collector.models import FormVersion
from tests.support.central import Central
from tests.support.pipeline import submit

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


@pytest.fixture
def world(central: Central) -> tuple[Central, str, str, str, int]:
    project = central.project("Media")
    form = central.publish(project, MEDIA_FORM)
    _id, admin = central.user("admin@example.org", "admin")
    manager_id, manager = central.user("dm@example.org", "data-manager", projects=(project,))
    with central.session() as session:
        version = session.scalars(select(FormVersion).order_by(FormVersion.id.desc())).first()
        assert version is not None
        instance_id = submit(
            session,
            version,
            VALUES,
            media=[("site.jpg", SITE), ("scan.jpg", SCAN), ("scratch.jpg", SCRATCH)],
        )
        session.commit()
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
