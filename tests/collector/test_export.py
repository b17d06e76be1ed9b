"""Exports: Central's CSV layout, JSON Lines, pseudonymised values, summaries, profiles."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from collector import export, vault
from collector.audit import CLI, Actor
from collector.dataset import Viewer
from collector.db import session_factory, transaction
from collector.errors import Forbidden, InvalidInput
from collector.models import AuditEntry, Form, FormVersion, SubmissionPart
from tests.collector.test_vault import profile
from tests.support.pipeline import process_all, publish, submit
from tests.support.xlsform import PROFILE

MANAGER = Actor("user", 2, "dm@example.org", role="data-manager")
ADMIN = Actor("user", 1, "admin@example.org", role="admin")
PEOPLE = [
    ("Ayşe Yılmaz", "+90 532 123 45 67", "U1234567", ("Ali Yılmaz", "Zeynep Yılmaz")),
    ("Omar Haddad", "+963 944 000 111", "N1230000", ()),
    ("محمد الأحمد", "+963 944 123 456", "N0011223", ("فاطمة",)),
]


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def loaded(sessions: sessionmaker[Session], kek: bytes) -> FormVersion:
    with transaction(sessions) as session:
        version = publish(session, kek, PROFILE)
    with sessions() as session:
        for name, phone, passport, members in PEOPLE:
            submit(
                session,
                version,
                profile(name, phone, passport, members, narrative=f"story of {name}"),
            )
        broken = submit(session, version, profile("Broken", "0", "X"))
        session.execute(
            update(SubmissionPart)
            .where(
                SubmissionPart.name == "submission.xml.enc",
                SubmissionPart.submission_id
                == select(SubmissionPart.submission_id)
                .where(SubmissionPart.name == "submission.xml.enc")
                .order_by(SubmissionPart.submission_id.desc())
                .limit(1)
                .scalar_subquery(),
            )
            .values(data=b"\x00" * 64)
        )
        session.commit()
        assert broken
    process_all(sessions, kek)
    return version


def run(
    sessions: sessionmaker[Session], kek: bytes, writer: Any, **kw: Any
) -> tuple[bytes, dict[str, Any]]:
    out = io.BytesIO()
    with sessions() as session:
        form = session.scalars(select(Form)).one()
        kw.setdefault("actor", MANAGER)
        kw.setdefault("viewer", Viewer(vault.Secrets(kek)))
        summary = writer(out, session, form, **kw)
    return out.getvalue(), summary


def read_zip(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: list(csv.DictReader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
            if name.endswith(".csv")
        }


def test_csv_zip_is_pseudonymised_and_joined_like_central(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    data, summary = run(sessions, kek, export.write_csv_zip)
    tables = read_zip(data)
    assert set(tables) == {"profile.csv", "profile-household.csv"}
    root, household = tables["profile.csv"], tables["profile-household.csv"]
    assert len(root) == 3
    assert len(household) == 3
    assert list(root[0])[:2] == ["SubmissionDate", "full_name"]
    assert "officer_notes" not in root[0]
    assert all(r["full_name"].startswith("P") and r["dob"] == "1990" for r in root)
    assert all(r["narrative"] == "" for r in root)
    keys = {r["KEY"] for r in root}
    assert {r["PARENT_KEY"] for r in household} <= keys
    assert all(r["KEY"].startswith(r["PARENT_KEY"] + "/household[") for r in household)
    for name, phone, passport, members in PEOPLE:
        for secret in (name, phone, passport, *members, f"story of {name}"):
            assert secret.encode() not in data
    assert (summary["received"], summary["processed"], summary["exported"]) == (4, 3, 3)
    assert summary["failed"] == {"corrupt-file": 1}
    assert summary["withheld_columns"] == ["narrative", "document_photo"]
    assert summary["warnings"]
    assert "fewer than 5" in summary["warnings"][0]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert json.loads(archive.read("summary.json"))["exported"] == 3


def test_jsonl_nests_repeats_and_ends_with_the_summary(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    data, _summary = run(sessions, kek, export.write_jsonl)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    rows, last = lines[:-1], lines[-1]
    assert last["__summary"]["exported"] == 3
    assert [len(r["household"]) for r in rows] == [2, 0, 1]
    assert rows[0]["household"][0]["household-member_name"].startswith("P")
    assert rows[0]["full_name"] != rows[1]["full_name"]


def test_sensitive_values_open_only_when_asked(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    viewer = Viewer(vault.Secrets(kek), sensitive=True)
    data, summary = run(sessions, kek, export.write_csv_zip, viewer=viewer, actor=ADMIN)
    narratives = {r["narrative"] for r in read_zip(data)["profile.csv"]}
    assert narratives == {f"story of {p[0]}" for p in PEOPLE}
    assert summary["withheld_columns"] == []


def test_reidentified_export_is_admin_only_with_a_reason(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    viewer = Viewer(vault.Secrets(kek), reidentify=True)
    with pytest.raises(Forbidden):
        run(
            sessions,
            kek,
            export.write_csv_zip,
            viewer=viewer,
            profile="reidentified",
            reason="tracing",
        )
    with pytest.raises(InvalidInput):
        run(sessions, kek, export.write_csv_zip, viewer=viewer, profile="reidentified", actor=ADMIN)
    data, _ = run(
        sessions,
        kek,
        export.write_csv_zip,
        viewer=viewer,
        profile="reidentified",
        actor=ADMIN,
        reason="family tracing, case 12",
    )
    names = {r["full_name"] for r in read_zip(data)["profile.csv"]}
    assert names == {p[0] for p in PEOPLE}
    with sessions() as session:
        actions = [
            (e.action, e.actor_id)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("export.%")))
        ]
    assert actions == [("export.refused", 2), ("export.start", 1)]


def test_cli_actor_may_export(
    sessions: sessionmaker[Session], kek: bytes, loaded: FormVersion
) -> None:
    data, summary = run(sessions, kek, export.write_jsonl, actor=CLI)
    assert summary["exported"] == 3
    assert data
