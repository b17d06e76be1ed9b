"""Key rotation with a fleet of tablets: nothing is lost, stragglers are named, destroy waits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from api import create_app
from api.config import Instance, Settings
from collector import appusers, collectqr, keyring, publishing, rotation
from collector.audit import CLI
from collector.db import transaction
from collector.errors import Conflict
from collector.models import Submission
from collector.worker import Decryptor
from tests.support.collect import CollectClient
from tests.support.server import threaded_server
from tests.support.xlsform import FIELD_VISIT, md_to_xlsx

DEVICES = ("Tablet A", "Tablet B", "Tablet C", "Tablet D")


class Device:
    """One tablet: its app user, its Collect client and the form version it holds."""

    def __init__(self, name: str, user_id: int, url: str):
        self.name, self.user_id = name, user_id
        self.client = CollectClient(url)
        self.form_xml = b""
        self.version = ""

    def update(self) -> None:
        [listed] = self.client.form_list()
        self.form_xml, self.version = self.client.download(listed), listed.version

    def submit(self) -> str:
        iid = f"uuid:{uuid.uuid4()}"
        xml = (
            f'<data id="field_visit" version="{self.version}"><full_name>{self.name}'
            f"</full_name><age>30</age><story>x</story><photo/>"
            f"<meta><instanceID>{iid}</instanceID></meta></data>"
        ).encode()
        upload = self.client.seal(self.form_xml, "field_visit", self.version, xml, instance_id=iid)
        response = self.client.post(upload)
        assert response.status_code == 201, response.text
        return iid


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rsa_bits=2048,
        in_process_workers=False,
    )
    Instance(settings, create=True).close()
    app = create_app(settings=settings)
    yield app
    app.extensions["collector"].close()


def drain(instance: Instance) -> None:
    decryptor = Decryptor(instance.sessions, instance.kek)
    while decryptor.run_once():
        pass


def rotate(instance: Instance, project_id: int) -> None:
    with transaction(instance.sessions) as session:
        _row, republished = rotation.rotate_project(
            session, project_id, instance.kek, bits=2048, actor=CLI
        )
        assert [r.xml_form_id for r in republished] == ["field_visit"]


def test_fleet_survives_two_rotations(app: Flask) -> None:
    instance: Instance = app.extensions["collector"]
    with transaction(instance.sessions) as session:
        project_id = keyring.create_project(session, "Fleet", instance.kek, bits=2048).id
        publishing.publish_xlsform(session, project_id, md_to_xlsx(FIELD_VISIT))
        tokens = [
            (name, *appusers.create(session, project_id, name, instance.kek, forms=["field_visit"]))
            for name in DEVICES
        ]
        users = [(name, user.id, token) for name, user, token in tokens]
    with threaded_server(app) as origin:
        fleet = {
            name: Device(name, uid, collectqr.server_url(origin, token, project_id))
            for name, uid, token in users
        }
        a, b, c, d = (fleet[n] for n in DEVICES)
        sent = []
        for device in fleet.values():
            device.update()
            sent += [device.submit(), device.submit()]
        first_hash = a.client.form_list()[0].hash
        rotate(instance, project_id)
        assert a.client.form_list()[0].hash != first_hash
        for device in (a, b, d):
            device.update()
        sent += [device.submit() for device in fleet.values()]
        rotate(instance, project_id)
        for device in (a, b):
            device.update()
        sent += [device.submit() for device in fleet.values()]
        assert {a.version, c.version, d.version} == {"2026112301-k3", "2026112301", "2026112301-k2"}
        drain(instance)
        with instance.sessions() as session:
            states = dict(session.execute(select(Submission.instance_id, Submission.state)).all())
            report = {s.generation: s for s in rotation.status(session, project_id)}
        assert states == dict.fromkeys(sent, "processed")
        assert [s.display_name for s in report[1].stragglers] == ["Tablet C"]
        assert [s.display_name for s in report[2].stragglers] == ["Tablet D"]
        assert (report[1].pending, report[1].processed) == (0, 8 + 1 + 1)
        with instance.sessions() as session, pytest.raises(Conflict, match="Tablet C"):
            rotation.destroy(session, project_id, 1, actor=CLI)
        c.update()
        with transaction(instance.sessions) as session:
            rotation.destroy(session, project_id, 1, actor=CLI)
        with instance.sessions() as session, pytest.raises(Conflict, match="Tablet D"):
            rotation.destroy(session, project_id, 2, actor=CLI)
        with instance.sessions() as session, pytest.raises(Conflict, match="active"):
            rotation.destroy(session, project_id, 3, actor=CLI)
        sent.append(c.submit())
        drain(instance)
        with instance.sessions() as session:
            assert (
                session.scalars(
                    select(Submission.state).where(Submission.instance_id == sent[-1])
                ).one()
                == "processed"
            )
            gens = [(g.generation, g.state) for g in keyring.generations(session, project_id)]
        assert gens == [(1, "destroyed"), (2, "retired"), (3, "active")]


def test_forced_destroy_needs_a_reason_and_is_audited(app: Flask) -> None:
    instance: Instance = app.extensions["collector"]
    with transaction(instance.sessions) as session:
        project_id = keyring.create_project(session, "Forced", instance.kek, bits=2048).id
        publishing.publish_xlsform(session, project_id, md_to_xlsx(FIELD_VISIT))
    rotate(instance, project_id)
    from collector.errors import InvalidInput
    from collector.models import AuditEntry

    with instance.sessions() as session, pytest.raises(InvalidInput):
        rotation.destroy(session, project_id, 1, actor=CLI, force=True)
    with transaction(instance.sessions) as session:
        rotation.destroy(
            session,
            project_id,
            1,
            actor=CLI,
            force=True,
            reason="laptop with the key export was stolen",
        )
    with instance.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "key.destroy")).one()
    assert "stolen" in entry.details
