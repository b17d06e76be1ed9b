"""Deleting a submission, as on Central: hidden from every view and export until restored, never
received again, and purged for good (vault subjects only it named shredded) after 30 days."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from api.config import Instance
from collector import submissions
from collector.audit import CLI
from collector.db import transaction
from collector.errors import NotFound
from collector.models import AuditEntry, Form, Subject, Submission, SubmissionRecord, utcnow
from tests.support.central import World, simple_instance
from tests.support.pipeline import process_all, publish, submit
from tests.support.site import Sealer, Site
from tests.support.xlsform import FIELD_VISIT


def _exported(world: World) -> tuple[list[str], dict[str, Any]]:
    api, a, form = world.central.api(world.manager), world.project_a, world.form
    zipped = api.get(f"/v1/projects/{a}/forms/{form}/submissions.csv.zip")
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read(f"{form}.csv").decode())))
        return [r["KEY"] for r in rows], json.loads(archive.read("summary.json"))


def test_a_deleted_submission_leaves_every_view_until_restored(world: World) -> None:
    central, a, form, iid = world.central, world.project_a, world.form, world.instance_id
    api = central.api(world.manager)  # a data manager of the project may delete
    base = f"/v1/projects/{a}/forms/{form}"
    one = f"{base}/submissions/{iid.replace(':', '%3A')}"

    deleted = api.delete(one)
    assert deleted.status_code == 200, deleted.get_json()
    assert deleted.get_json() == {"success": True}
    assert api.get(one).status_code == 404
    assert api.get(f"{base}/submissions").get_json() == []
    [trash] = api.get(f"{base}/submissions?deleted=true").get_json()
    assert trash["instanceId"] == iid
    assert trash["deletedAt"] is not None
    feed = api.get(f"{base}.svc/Submissions?$count=true").get_json()
    assert (feed["@odata.count"], feed["value"]) == (0, [])
    assert api.get(base).get_json()["submissions"] == 0
    keys, summary = _exported(world)
    assert keys == []
    assert (summary["received"], summary["exported"], summary["deleted"]) == (0, 0, 1)

    # While deleted it can be neither changed nor sent again, and a refusal changes nothing.
    before = central.counts()
    assert api.delete(one).status_code == 404
    assert api.patch(one, json={"reviewState": "approved"}).status_code == 404
    again = api.post(
        f"{base}/submissions",
        data=simple_instance(iid, place="Van"),
        content_type="application/xml",
    )
    assert again.status_code == 409
    assert again.get_json()["code"] == 409.18
    assert central.counts() == before

    restored = api.post(f"{one}/restore")
    assert restored.status_code == 200, restored.get_json()
    assert api.get(one).get_json()["deletedAt"] is None
    assert [s["instanceId"] for s in api.get(f"{base}/submissions").get_json()] == [iid]
    assert api.get(f"{base}/submissions?deleted=true").get_json() == []
    keys, summary = _exported(world)
    assert (keys, summary["deleted"]) == ([iid], 0)
    assert api.post(f"{one}/restore").status_code == 404  # not deleted
    changes = [a for a in central.audit_actions() if a.startswith("submission.")]
    assert changes[-2:] == ["submission.delete", "submission.restore"]
    # Someone from another project may do neither.
    assert central.api(world.outsider).delete(one).status_code == 403


def test_an_edited_submission_is_deleted_and_restored_whole(world: World) -> None:
    central, a, form, iid = world.central, world.project_a, world.form, world.instance_id
    api = central.api(world.admin)
    one = f"/v1/projects/{a}/forms/{form}/submissions/{iid.replace(':', '%3A')}"
    edit = simple_instance("uuid:0a1b2c3d-0000-4000-8000-0000000000e9", deprecated=iid)
    assert api.put(one, data=edit, content_type="application/xml").status_code == 200
    central.drain()
    assert api.delete(one).status_code == 200
    with central.session() as session:
        marks = session.scalars(select(Submission.deleted_at)).all()
    assert len(marks) == 2
    assert all(m is not None for m in marks)
    assert _exported(world)[0] == []
    assert api.post(f"{one}/restore").status_code == 200
    assert api.get(one).get_json()["currentVersion"]["instanceId"].endswith("e9")
    assert _exported(world)[0] == [iid]


def test_collect_may_not_send_a_deleted_submission_again(site: Site, sealer: Sealer) -> None:
    sealed = sealer()
    assert sealer.client.post(sealed).status_code == 201
    site.drain()
    with transaction(site.instance.sessions) as session:
        form = session.scalars(select(Form)).one()
        submissions.delete_logical(session, form, sealed.instance_id, actor=CLI)
    with site.instance.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(Submission))
    refused = sealer.client.post(sealed)  # a retry, as Collect sends one
    assert refused.status_code == 409
    assert "has been deleted" in refused.text
    with site.instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == rows


def _deleted_profiles(instance: Instance) -> tuple[int, list[str]]:
    """A project with four processed field visits, each naming another person; the first three
    deleted, the first long ago."""
    with transaction(instance.sessions) as session:
        version = publish(session, instance.kek, FIELD_VISIT)
        project = version.form.project_id
    ids = []
    with instance.sessions() as session:
        for n in range(4):
            ids.append(submit(session, version, f"<full_name>Person {n} Özdemir</full_name>"))
        session.commit()
    process_all(instance.sessions, instance.kek)
    with transaction(instance.sessions) as session:
        form = session.scalars(select(Form)).one()
        for iid in ids[:3]:
            submissions.delete_logical(session, form, iid, actor=CLI)
        session.execute(
            update(Submission)
            .where(Submission.instance_id == ids[0])
            .values(deleted_at=utcnow() - timedelta(days=31))
        )
    return project, ids


def test_purge_removes_submissions_deleted_long_ago_and_shreds_their_subjects(
    cli: Any, cli_instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, ids = _deleted_profiles(cli_instance)
    with cli_instance.sessions() as session:
        subjects = {
            iid: json.loads(data)["subjects"]
            for iid, data in session.execute(
                select(Submission.instance_id, SubmissionRecord.data).join(
                    SubmissionRecord, SubmissionRecord.submission_id == Submission.id
                )
            )
        }

    def left() -> list[str]:
        with cli_instance.sessions() as session:
            return sorted(session.scalars(select(Submission.instance_id)))

    def shredded(iid: str) -> bool:
        with cli_instance.sessions() as session:
            [subject_id] = subjects[iid]
            subject = session.get(Subject, subject_id)
            return subject is None or subject.sealed_data_key is None

    done = cli("submissions", "purge")
    assert done.exit_code == 0, done.output
    assert done.output == "1 deleted submissions purged\n"
    assert left() == sorted(ids[1:])
    assert shredded(ids[0])
    assert not shredded(ids[1])
    # Recently deleted ones go only when forced (here one statement each); one never deleted
    # stays.
    assert cli("submissions", "purge", "--project", str(project)).output.startswith("0 ")
    monkeypatch.setattr(submissions, "PURGE_BATCH", 1)
    forced = cli("submissions", "purge", "--force", "--yes")
    assert forced.output == "2 deleted submissions purged\n"
    assert left() == [ids[3]]
    assert shredded(ids[1])
    assert shredded(ids[2])
    assert not shredded(ids[3])
    with cli_instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SubmissionRecord)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--form", "field_visit"), "--form needs --project"),
        (("--project", "1", "--instance", "uuid:x"), "--instance needs --form"),
        (("--project", "999"), "999"),
        (("--project", "1", "--form", "nope"), "nope"),
        (("--force",), "Aborted"),
    ],
)
def test_purge_refuses_bad_input_and_changes_nothing(
    cli: Any, cli_instance: Instance, args: tuple[str, ...], message: str
) -> None:
    _deleted_profiles(cli_instance)
    with cli_instance.sessions() as session:
        before = session.scalar(select(func.count()).select_from(Submission))
    refused = cli("submissions", "purge", *args)
    assert refused.exit_code != 0
    assert message in refused.output
    with cli_instance.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == before


def test_delete_and_restore_in_the_domain_refuse_what_is_not_there(world: World) -> None:
    with transaction(world.central.instance.sessions) as session:
        form = session.scalars(select(Form)).one()
        with pytest.raises(NotFound, match="does not exist"):
            submissions.delete_logical(session, form, "uuid:none", actor=CLI)
        with pytest.raises(NotFound, match="no deleted submission"):
            submissions.restore_logical(session, form, world.instance_id, actor=CLI)


def test_the_worker_purges_what_was_deleted_long_ago_without_cron(
    cli_instance: Instance,
) -> None:
    _project, ids = _deleted_profiles(cli_instance)
    stop = threading.Event()
    decryptor = cli_instance.decryptor()
    worker = threading.Thread(target=decryptor.run, args=(stop,), kwargs={"idle": 0.05})
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and ids[0] in _instance_ids(cli_instance):
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(10)
    assert _instance_ids(cli_instance) == sorted(ids[1:])  # recent deletions stay, restorable
    with cli_instance.sessions() as session:
        [purge] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "submission.purge")
        ).all()
    assert (purge.actor_type, json.loads(purge.details)["submissions"]) == ("system", 1)
    # A second purger finding nothing left (another worker took it) records nothing.
    assert decryptor.purge_deleted() == 0
    with cli_instance.sessions() as session:
        count = select(func.count()).where(AuditEntry.action == "submission.purge")
        assert session.scalar(count) == 1


def _instance_ids(instance: Instance) -> list[str]:
    with instance.sessions() as session:
        return sorted(session.scalars(select(Submission.instance_id)))
