"""Stored, then failed with a reason: the ciphertext stays, the CLI lists and retries it.

Each failure arrives over HTTP as Collect would send it (201: it is stored), is processed by a
worker, and ends ``failed`` with its reason code; ``collector submissions list --state failed``
shows it and ``collector submissions retry`` re-runs it once the cause is fixed.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from collector import keyring
from collector.db import transaction
from collector.models import SubmissionPart, SubmissionRecord
from tests.api.conftest import Invoke
from tests.support.collect import CollectClient, Upload
from tests.support.site import FORM_ID, Sealer, Site, set_up_project


def listed(cli: Invoke, site: Site, *args: str) -> list[dict[str, object]]:
    result = cli("submissions", "list", "--project", str(site.project_id), "--json", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)
    return rows


def parts_of(site: Site, submission_id: int) -> dict[str, bytes]:
    with site.instance.sessions() as session:
        rows = session.scalars(
            select(SubmissionPart).where(SubmissionPart.submission_id == submission_id)
        )
        return {p.name: p.data for p in rows}


def test_tampered_ciphertext_is_stored_then_fails_as_corrupt_file(
    site: Site, sealer: Sealer, cli: Invoke
) -> None:
    upload = sealer()
    data = bytearray(upload.files["submission.xml.enc"])
    data[40] ^= 0x55
    tampered = Upload(upload.instance_id, upload.manifest, {**upload.files})
    tampered.files["submission.xml.enc"] = bytes(data)
    assert sealer.client.post(tampered).status_code == 201
    site.drain()
    sub = site.submission(upload.instance_id)
    assert (sub.state, sub.reason, sub.attempts) == ("failed", "corrupt-file", 1)
    assert parts_of(site, sub.id) == tampered.files
    [row] = listed(cli, site, "--state", "failed")
    assert (row["instanceId"], row["reason"], row["formId"]) == (
        upload.instance_id,
        "corrupt-file",
        FORM_ID,
    )
    result = cli("submissions", "retry", "--project", str(site.project_id))
    assert result.exit_code == 0, result.output
    assert "1 submissions re-queued" in result.output
    assert "1 submissions still failed" in result.output
    again = site.submission(upload.instance_id)
    assert (again.state, again.reason, again.attempts) == ("failed", "corrupt-file", 2)
    assert parts_of(site, sub.id) == tampered.files


def test_unknown_key_fails_then_processes_once_the_key_is_imported(site: Site, cli: Invoke) -> None:
    other_project, other_token = set_up_project(site.app, "Other")
    other = Sealer(CollectClient(site.url_for(other_token, other_project)))
    # Same form id and version, sealed with the other project's key, sent to this project.
    upload = other()
    assert CollectClient(site.server_url).post(upload).status_code == 201
    site.drain()
    sub = site.submission(upload.instance_id)
    assert (sub.state, sub.reason) == ("failed", "unknown-key")
    kek = site.instance.kek
    with transaction(site.instance.sessions) as session:
        row = keyring.active_generation(session, other_project)
        key = keyring.private_key(session, row, kek)
        keyring.add_private_key(session, site.project_id, kek, key, source="pem", activate=False)
    result = cli("submissions", "retry", "--project", str(site.project_id), str(sub.id))
    assert result.exit_code == 0, result.output
    assert "0 submissions still failed" in result.output
    done = site.submission(upload.instance_id)
    assert (done.state, done.reason, done.attempts) == ("processed", None, 2)


def test_instance_of_another_form_fails_as_instance_mismatch(site: Site, sealer: Sealer) -> None:
    iid = "uuid:6d1e2f7a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
    xml = f'<other id="other_form"><meta><instanceID>{iid}</instanceID></meta></other>'
    upload = sealer(iid, media=[], xml=xml.encode())
    assert sealer.client.post(upload).status_code == 201
    site.drain()
    sub = site.submission(iid)
    assert (sub.state, sub.reason) == ("failed", "instance-mismatch")
    assert sub.reason_detail


def test_instance_id_differing_from_the_envelope_fails_as_instance_mismatch(
    site: Site, sealer: Sealer
) -> None:
    iid = "uuid:11111111-2222-4333-8444-555555555555"
    xml = sealer(iid).files  # Only to show the sealer works; the body below names another id.
    assert xml
    body = (
        '<data id="field_visit" version="2026112301"><age>3</age>'
        "<meta><instanceID>uuid:99999999-2222-4333-8444-555555555555</instanceID></meta></data>"
    )
    upload = sealer(iid, media=[], xml=body.encode())
    assert sealer.client.post(upload).status_code == 201
    site.drain()
    assert site.submission(iid).reason == "instance-mismatch"
    with site.instance.sessions() as session:
        assert session.scalars(select(SubmissionRecord)).all() == []


def test_missing_media_waits_then_fails_then_recovers_when_it_arrives(
    site: Site, sealer: Sealer, cli: Invoke
) -> None:
    upload = sealer(media=[("a.jpg", b"a" * 100), ("b.jpg", b"b" * 100)])
    response = sealer.client.post(upload, names=["a.jpg.enc", "submission.xml.enc"])
    assert response.status_code == 201
    site.drain()
    sub = site.submission(upload.instance_id)
    assert (sub.state, sub.received_parts, sub.expected_parts) == ("received", 2, 3)
    [row] = listed(cli, site, "--state", "received")
    assert row["parts"] == "2/3"
    # Past the grace period, a sweep marks it failed; the ciphertext that came stays.
    decryptor = site.instance.decryptor()
    decryptor.missing_media_grace = timedelta(0)
    assert decryptor.sweep_incomplete() == 1
    failed = site.submission(upload.instance_id)
    assert (failed.state, failed.reason) == ("failed", "missing-media")
    assert set(parts_of(site, sub.id)) == {"a.jpg.enc", "submission.xml.enc"}
    [row] = listed(cli, site, "--state", "failed")
    assert (row["reason"], row["parts"]) == ("missing-media", "2/3")
    # The tablet sends the last file after all: the submission is queued again and processed.
    assert sealer.client.post(upload).status_code == 201
    assert site.submission(upload.instance_id).state == "received"
    site.drain()
    done = site.submission(upload.instance_id)
    assert (done.state, done.reason, done.received_parts) == ("processed", None, 3)


def test_incomplete_upload_within_grace_is_left_alone(site: Site, sealer: Sealer) -> None:
    upload = sealer()
    assert sealer.client.post(upload, names=["photo.jpg.enc"], incomplete=True).status_code == 201
    assert site.instance.decryptor().sweep_incomplete() == 0
    assert site.submission(upload.instance_id).state == "received"
