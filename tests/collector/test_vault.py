"""Pseudonymised storage: linkage, the vault, re-identification, erasure and key rotation."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from collector import audit, erasure, export, intake, pseudorotate, vault
from collector.audit import Actor
from collector.dataset import Viewer
from collector.db import session_factory, transaction
from collector.errors import Forbidden, InvalidInput
from collector.models import (
    AuditEntry,
    Form,
    FormVersion,
    Subject,
    Submission,
    SubmissionMedia,
    SubmissionPart,
    SubmissionRecord,
)
from tests.collector.rawdb import raw_database_bytes
from tests.support.pipeline import process_all, publish, submit
from tests.support.xlsform import PROFILE

ADMIN = Actor("user", 1, "admin@example.org", role="admin")
MANAGER = Actor("user", 2, "dm@example.org", role="data-manager")
APP_USER = Actor("app-user", 3, "Tablet", role=None)


def profile(
    name: str,
    phone: str,
    passport: str,
    members: tuple[str, ...] = (),
    narrative: str = "crossed at night",
    notes: str = "private notes",
) -> str:
    household = "".join(
        f"<household><member_name>{m}</member_name><member_age>{7 + i}</member_age></household>"
        for i, m in enumerate(members)
    )
    return (
        f"<full_name>{name}</full_name><phone>{phone}</phone><passport_no>{passport}"
        "</passport_no><dob>1990-05-17</dob><location>41.0082376 28.9783589 35 4</location>"
        f"<narrative>{narrative}</narrative><officer_notes>{notes}</officer_notes>"
        f"<group_size>3</group_size>{household}<document_photo>doc.jpg</document_photo>"
        "<scratch_photo>scratch.jpg</scratch_photo>"
    )


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def version(sessions: sessionmaker[Session], kek: bytes) -> FormVersion:
    with transaction(sessions) as session:
        return publish(session, kek, PROFILE)


def records(sessions: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    with sessions() as session:
        rows = session.execute(
            select(Submission.instance_id, Submission.state, SubmissionRecord.data).join(
                SubmissionRecord, SubmissionRecord.submission_id == Submission.id, isouter=True
            )
        ).all()
    assert all(state == "processed" for _iid, state, _data in rows), rows
    return {iid: json.loads(data) for iid, _state, data in rows}


def token_of(sessions: sessionmaker[Session], value: Any) -> str:
    assert isinstance(value, dict), value
    with sessions() as session:
        return vault.pseudonyms(session, {value["subject"]})[value["subject"]]


def test_policy_applied_at_rest(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    with sessions() as session:
        iid = submit(
            session,
            version,
            profile("Ayşe Yılmaz", "+90 532 123 45 67", "U1234567", members=("Ali Yılmaz",)),
            media=[("doc.jpg", b"\xff\xd8 passport scan"), ("scratch.jpg", b"\xff")],
        )
    process_all(sessions, kek)
    record = records(sessions)[iid]
    root = record["root"]
    assert token_of(sessions, root["/data/full_name"]).startswith("P")
    assert root["/data/dob"] == "1990"
    assert root["/data/location"] == "41.01 28.98"
    assert set(root["/data/narrative"]) == {"sealed", "v"}
    assert "/data/officer_notes" not in root
    assert root["/data/group_size"] == "3"
    [member] = record["repeats"]["/data/household"]
    assert member["values"]["/data/household/member_age"] == "5-9"
    assert isinstance(member["values"]["/data/household/member_name"], dict)
    assert record["dropped"] == ["/data/officer_notes", "/data/scratch_photo"]
    with sessions() as session:
        media = session.scalars(select(SubmissionMedia)).all()
        assert [m.name for m in media] == ["doc.jpg"]
        secrets = vault.Secrets(kek)
        sub = session.scalars(select(Submission)).one()
        opened = vault.open_value(
            secrets, session, sub.project_id, media[0].key_version, media[0].sealed, "media"
        )
        assert opened == b"\xff\xd8 passport scan"
        narrative = root["/data/narrative"]
        import base64

        text = vault.open_value(
            secrets,
            session,
            sub.project_id,
            narrative["v"],
            base64.b64decode(narrative["sealed"]),
            "sensitive",
        )
        assert text == b"crossed at night"


def test_same_person_links_and_different_people_do_not(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    people = [
        ("Ayşe Yılmaz", "+90 532 123 45 67", "U1234567"),
        ("  AYŞE   YILMAZ ", "0532 123 4567", "u 1234567"),
        ("İbrahim Halil", "0090 532 765 43 21", "P-99887766"),
        ("ibrahim halil", "5327654321", "p99887766"),
        ("محمد الأحمد", "+963 944 123 456", "N0011223"),
        ("مُحَمَّد الاحمد", "00963944123456", "n0011223"),
        ("Mehmet Öz", "+90 555 000 11 22", "U7654321"),
    ]
    with sessions() as session:
        ids = [submit(session, version, profile(*p)) for p in people]
    process_all(sessions, kek)
    found = records(sessions)
    tokens = [
        tuple(
            token_of(sessions, found[i]["root"][f"/data/{f}"])
            for f in ("full_name", "phone", "passport_no")
        )
        for i in ids
    ]
    assert tokens[0] == tokens[1]
    assert tokens[2] == tokens[3]
    assert tokens[4] == tokens[5]
    distinct = {tokens[0], tokens[2], tokens[4], tokens[6]}
    assert len(distinct) == 4
    assert len({t for group in distinct for t in group}) == 12


def test_reveal_is_admin_only_and_audited(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    with sessions() as session:
        iid = submit(session, version, profile("Zeynep Kaya", "0532 000 00 01", "U5550001"))
    process_all(sessions, kek)
    token = token_of(sessions, records(sessions)[iid]["root"]["/data/full_name"])
    project_id = version.form.project_id
    for actor in (MANAGER, APP_USER):
        with sessions() as session, pytest.raises(Forbidden):
            vault.reveal(session, kek, project_id, token, actor=actor, reason="curiosity")
    with sessions() as session, pytest.raises(InvalidInput):
        vault.reveal(session, kek, project_id, token, actor=ADMIN, reason="")
    with transaction(sessions) as session:
        revealed = vault.reveal(
            session, kek, project_id, token, actor=ADMIN, reason="family tracing request #44"
        )
    assert revealed.original == "Zeynep Kaya"
    assert "Zeynep" not in repr(revealed)
    with sessions() as session:
        actions = [
            (e.action, e.actor_id, e.subject)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("vault.%")))
        ]
        detail = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "vault.reveal")
        ).one()
        assert audit.verify(session) == []
    assert actions == [
        ("vault.reveal.refused", 2, token),
        ("vault.reveal.refused", 3, token),
        ("vault.reveal", 1, token),
    ]
    assert "family tracing request #44" in detail


def test_erasure_crypto_shreds(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    with sessions() as session:
        iid = submit(session, version, profile("Omar Haddad", "+963 944 000 111", "N1230000"))
    process_all(sessions, kek)
    token = token_of(sessions, records(sessions)[iid]["root"]["/data/full_name"])
    project_id = version.form.project_id
    with sessions() as session, pytest.raises(Forbidden):
        vault.erase(session, project_id, token, actor=MANAGER, reason="asked by the person")
    with transaction(sessions) as session:
        vault.erase(session, project_id, token, actor=ADMIN, reason="asked by the person")
    with sessions() as session:
        subject = vault.find_subject(session, project_id, token)
        assert (subject.sealed_data_key, subject.sealed_original) == (None, None)
    with sessions() as session, pytest.raises(vault.SubjectErased, match="was erased on"):
        vault.reveal(session, kek, project_id, token, actor=ADMIN, reason="check after erasure")
    assert token_of(sessions, records(sessions)[iid]["root"]["/data/full_name"]) == token
    with sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "vault.erase" in actions
    assert "vault.reveal.erased" in actions


def envelope(sessions: sessionmaker[Session], instance_id: str) -> tuple[bytes, dict[str, bytes]]:
    with sessions() as session:
        sub = session.scalars(select(Submission).where(Submission.instance_id == instance_id)).one()
        stmt = select(SubmissionPart).where(SubmissionPart.submission_id == sub.id)
        return sub.manifest, {p.name: p.data for p in session.scalars(stmt)}


def test_erasure_destroys_the_envelopes_that_name_the_subject(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion, database_url: str
) -> None:
    """The raw envelope holds the originals under keys the server keeps: erasure destroys it
    for every submission naming the subject (as the respondent or in a repeat), not others'."""
    with sessions() as session:
        own = submit(session, version, profile("Omar Haddad", "+963 944 000 111", "N1230000"))
        member = submit(
            session, version, profile("Leyla Haddad", "+963 944 000 222", "N2", ("omar  HADDAD",))
        )
        other = submit(session, version, profile("Rana Saleh", "+963 944 000 333", "N3"))
    process_all(sessions, kek)
    kept = {iid: envelope(sessions, iid) for iid in (own, member, other)}
    assert all(parts for _manifest, parts in kept.values())
    token = token_of(sessions, records(sessions)[own]["root"]["/data/full_name"])
    project_id = version.form.project_id
    with transaction(sessions) as session:
        vault.erase(session, project_id, token, actor=ADMIN, reason="right to erasure")
    assert envelope(sessions, own) == (erasure.ERASED_MANIFEST, {})
    assert envelope(sessions, member) == (erasure.ERASED_MANIFEST, {})
    assert envelope(sessions, other) == kept[other]
    engine = sessions.kw["bind"]
    if engine.dialect.name == "sqlite":  # What is deleted is overwritten, on every build.
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    raw = raw_database_bytes(engine, database_url)
    for iid in (own, member):
        manifest, parts = kept[iid]
        assert manifest not in raw
        assert not any(data in raw for data in parts.values())
    with sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "vault.erase")).one()
        assert json.loads(entry.details)["envelopes"] == 2
    # The records stay (analysis data), the pseudonym in them too.
    assert token_of(sessions, records(sessions)[own]["root"]["/data/full_name"]) == token
    # A tablet sending the same submission again is answered as a retry; nothing is stored.
    manifest, parts = kept[own]
    with sessions() as session:
        receipt = intake.receive(
            session,
            project_id=project_id,
            user=None,
            manifest=manifest,
            parts=[intake.Part(name, io.BytesIO(data)) for name, data in parts.items()],
        )
    assert (receipt.created, receipt.complete, receipt.added_parts) == (False, True, ())
    assert envelope(sessions, own) == (erasure.ERASED_MANIFEST, {})
    assert set(records(sessions)) == {own, member, other}


def test_pseudonym_rotation_keeps_linkage_and_changes_every_token(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    with sessions() as session:
        first = submit(session, version, profile("Ayşe Yılmaz", "+90 532 123 45 67", "U1"))
        erased = submit(session, version, profile("Gone Person", "+90 532 999 99 99", "U2"))
    process_all(sessions, kek)
    before = records(sessions)
    old = token_of(sessions, before[first]["root"]["/data/full_name"])
    gone = token_of(sessions, before[erased]["root"]["/data/full_name"])
    project_id = version.form.project_id
    with transaction(sessions) as session:
        vault.erase(session, project_id, gone, actor=ADMIN, reason="right to erasure")
        old_all = {s.id: s.pseudonym for s in session.scalars(select(Subject))}
    seen: list[tuple[int, int]] = []
    result = pseudorotate.rotate(
        sessions, kek, project_id, batch=2, progress=lambda done, total: seen.append((done, total))
    )
    assert result.rederived == len(old_all) - 1
    assert seen[-1][0] == seen[-1][1] == result.rederived
    with sessions() as session:
        new_all = {s.id: s.pseudonym for s in session.scalars(select(Subject))}
        iid = submit(session, version, profile("AYŞE  YILMAZ", "0532 123 4567", "u1"))
    process_all(sessions, kek)
    after = records(sessions)
    new = token_of(sessions, after[first]["root"]["/data/full_name"])
    assert new != old
    assert token_of(sessions, after[iid]["root"]["/data/full_name"]) == new
    assert token_of(sessions, after[erased]["root"]["/data/full_name"]) == gone
    changed = [sid for sid in old_all if old_all[sid] != new_all[sid]]
    assert len(changed) == len(old_all) - 1


def test_interrupted_rotation_resumes(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    with sessions() as session:
        ids = [
            submit(session, version, profile(f"Person {n}", f"+90 532 000 00 {n:02d}", f"U{n}"))
            for n in range(4)
        ]
    process_all(sessions, kek)
    project_id = version.form.project_id
    calls = 0

    def crash(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # The job dies between two committed batches.

    with pytest.raises(KeyboardInterrupt):
        pseudorotate.rotate(sessions, kek, project_id, batch=3, progress=crash)
    with sessions() as session:  # Mid-job, a late submission still links.
        late = submit(session, version, profile("PERSON 0", "0532 000 00 00", "u0"))
    process_all(sessions, kek)
    result = pseudorotate.rotate(sessions, kek, project_id, batch=3)
    assert result.version == 2
    found = records(sessions)
    assert token_of(sessions, found[late]["root"]["/data/full_name"]) == token_of(
        sessions, found[ids[0]]["root"]["/data/full_name"]
    )
    with sessions() as session:
        versions = {s.key_version for s in session.scalars(select(Subject))}
        states = {
            (k.version, k.state)
            for k in session.scalars(
                select(vault.ProjectKey).where(vault.ProjectKey.purpose == "pseudonym")
            )
        }
    assert versions == {2}
    assert states == {(1, "retired"), (2, "active")}


def test_linking_ignores_erased_subjects_and_other_projects(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    with sessions() as session:
        first = submit(session, version, profile("Omar Haddad", "+963 944 000 111", "N1230000"))
    process_all(sessions, kek)
    old = records(sessions)[first]["root"]["/data/full_name"]["subject"]
    project_id = version.form.project_id
    with transaction(sessions) as session:
        token = vault.pseudonyms(session, {old})[old]
        vault.erase(session, project_id, token, actor=ADMIN, reason="asked by the person")
        other = publish(session, kek, PROFILE, name="Other").form.project_id
        # The same token in another project (another key would never give it; a copy does).
        copy = session.get_one(Subject, old)
        session.add(
            Subject(
                project_id=other,
                kind=copy.kind,
                pseudonym=token,
                key_version=copy.key_version,
                sealed_data_key=b"k",
                sealed_original=b"o",
            )
        )
    with sessions() as session:
        again = submit(session, version, profile("Omar Haddad", "+963 944 000 111", "N1230000"))
    process_all(sessions, kek)
    new = records(sessions)[again]["root"]["/data/full_name"]["subject"]
    with sessions() as session:
        subject = session.get_one(Subject, new)
        assert subject.project_id == project_id
        assert subject.erased_at is None
        assert subject.pseudonym == token
    assert new != old


def test_two_writers_vaulting_the_same_value_share_one_subject(
    sessions: sessionmaker[Session], kek: bytes, version: FormVersion
) -> None:
    """A worker that vaults a value another worker has just vaulted (not yet committed) waits
    for that commit, skips the insert and links to the same subject: no error, no copy."""
    project_id = version.form.project_id
    secrets_cache = vault.Secrets(kek)
    items = [("phone", "+90 532 111 22 33"), (None, "Ayşe Kaya")]
    first = sessions()
    try:
        mine = vault.resolve(first, secrets_cache, project_id, items)
        results: list[list[int | None]] = []
        errors: list[BaseException] = []

        def other() -> None:
            try:
                with transaction(sessions) as session:
                    results.append(vault.resolve(session, vault.Secrets(kek), project_id, items))
            except BaseException as exc:  # Reported below, in the test's thread.
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the second writer went ahead of the first one's commit"
        first.commit()
    finally:
        first.close()
    thread.join(30)
    assert not errors, errors
    assert results == [mine]
    with sessions() as session:
        rows = session.scalars(select(Subject).where(Subject.project_id == project_id)).all()
    assert sorted(s.id for s in rows) == sorted(i for i in mine if i is not None)


NAMED = """
| survey   |
|          | type      | name      | label | pii        | calculation                    |
|          | text      | full_name | Name  | identifier |                                |
|          | text      | phone     | Phone | identifier |                                |
|          | integer   | visits    | Visits|            |                                |
|          | calculate | caller    |       |            | concat(${full_name}, ${phone}) |
|          | calculate | busy      |       |            | if(${visits} > 3, 'yes', 'no') |
| settings |
|          | form_id | version | instance_name                         |
|          | named   | 1       | concat(${full_name}, ' #', ${visits}) |
"""


def test_values_calculated_from_identifiers_are_sealed_at_rest(
    sessions: sessionmaker[Session], kek: bytes, db_engine: Engine, database_url: str
) -> None:
    """The instance name Collect computes from a name, and a calculation that copies a phone
    number, are sealed: the plaintext is nowhere in the database, and only an admin's export
    shows them."""
    with transaction(sessions) as session:
        named = publish(session, kek, NAMED)
    planted = ("Zübeyde Işıkoğlu", "+90 541 777 12 34")
    with sessions() as session:
        submit(
            session,
            named,
            f"<full_name>{planted[0]}</full_name><phone>{planted[1]}</phone><visits>5</visits>"
            f"<caller>{planted[0]}{planted[1]}</caller><busy>yes</busy>",
            meta=f"<instanceName>{planted[0]} #5</instanceName>",
        )
        session.commit()
    process_all(sessions, kek)
    [record] = records(sessions).values()
    root = record["root"]
    assert set(root["/data/meta/instanceName"]) == {"sealed", "v"}
    assert set(root["/data/caller"]) == {"sealed", "v"}
    assert root["/data/busy"] == "yes"
    raw = raw_database_bytes(db_engine, database_url)
    for value in planted:
        for form in (value, value.split()[0], value.replace(" ", "")):
            assert form.encode() not in raw, form
            assert form.encode("utf-16-le") not in raw, form

    def exported(actor: Actor, sensitive: bool) -> str:
        out = io.BytesIO()
        with sessions() as session:
            form = session.scalars(select(Form)).one()
            export.write_jsonl(
                out, session, form, actor=actor, viewer=Viewer(vault.Secrets(kek), sensitive)
            )
        return out.getvalue().decode()

    ordinary = exported(MANAGER, sensitive=False)
    assert all(value not in ordinary for value in planted)
    assert json.loads(ordinary.splitlines()[0])["busy"] == "yes"
    assert f"{planted[0]} #5" in exported(ADMIN, sensitive=True)
