"""Durable intake without HTTP: commit before acknowledging, idempotency, races, bounds."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from collector import groupcommit, intake
from collector.db import session_factory
from collector.errors import Conflict, InvalidInput, TooLarge
from collector.models import FormVersion, Submission, SubmissionPart
from keys import keyring as kr
from keys import odk
from tests.support.pipeline import KEY_ATTR, instance_xml, publish
from tests.support.site import stored_counts
from tests.support.xlsform import FIELD_VISIT


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def version(sessions: sessionmaker[Session], kek: bytes) -> FormVersion:
    with sessions() as session, session.begin():
        return publish(session, kek, FIELD_VISIT)


def seal(version: FormVersion, media: int = 2) -> odk.EncryptedSubmission:
    """Seal a FIELD_VISIT submission with ``media`` photos, as Collect would."""
    iid = f"uuid:{uuid.uuid4()}"
    match = KEY_ATTR.search(version.xml)
    assert match
    return odk.encrypt_submission(
        form_id="field_visit",
        version=version.version,
        instance_id=iid,
        xml=instance_xml("field_visit", version.version, "<age>3</age>", iid),
        media=[(f"{i}.jpg", bytes([i]) * 100) for i in range(media)],
        public_key=kr.load_public_key(match.group(1)),
    )


def receive(
    session: Session, version: FormVersion, sealed: odk.EncryptedSubmission, *names: str, **kw: Any
) -> intake.Receipt:
    chosen = names or tuple(sealed.files)
    parts = [intake.Part(n, io.BytesIO(sealed.files[n])) for n in chosen]
    return intake.receive(
        session,
        project_id=version.form.project_id,
        user=None,
        manifest=sealed.manifest,
        parts=parts,
        **kw,
    )


def test_receive_commits_before_it_returns(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    sealed = seal(version)
    with sessions() as session:
        receipt = receive(session, version, sealed)
        # Another connection sees it at once: it was committed, not merely flushed.
        with sessions() as other:
            assert stored_counts(other) == (1, 3)
    assert (receipt.created, receipt.complete, len(receipt.added_parts)) == (True, True, 3)


def test_parts_arriving_in_pieces_complete_the_submission(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    sealed = seal(version)
    names = list(sealed.files)
    with sessions() as session:
        first = receive(session, version, sealed, names[0])
        again = receive(session, version, sealed, names[0])
        last = receive(session, version, sealed, *names[1:])
    assert (first.created, first.complete, first.added_parts) == (True, False, (names[0],))
    assert (again.created, again.complete, again.added_parts) == (False, False, ())
    assert (last.created, last.complete) == (False, True)
    with sessions() as session:
        sub = session.scalars(select(Submission)).one()
        assert (sub.received_parts, sub.expected_parts, sub.state) == (3, 3, "received")


def _race(count: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` in ``count`` threads released together; return results or errors."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # Collected and asserted on by the caller.
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_split_uploads_never_lose_a_part_count(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    sealed = seal(version, media=5)
    names = list(sealed.files)

    def upload(i: int) -> intake.Receipt:
        with sessions() as session:
            return receive(session, version, sealed, names[i])

    results = _race(len(names), upload)
    assert all(isinstance(r, intake.Receipt) for r in results), results
    assert sum(1 for r in results if isinstance(r, intake.Receipt) and r.created) == 1
    with sessions() as session:
        sub = session.scalars(select(Submission)).one()
        assert sub.received_parts == sub.expected_parts == 6
        assert stored_counts(session) == (1, 6)


def test_concurrent_identical_uploads_store_one_submission(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    sealed = seal(version)

    def upload(_i: int) -> intake.Receipt:
        with sessions() as session:
            return receive(session, version, sealed)

    results = _race(4, upload)
    assert all(isinstance(r, intake.Receipt) and r.complete for r in results), results
    with sessions() as session:
        assert stored_counts(session) == (1, 3)


def test_a_refusal_rolls_back_and_the_session_stays_usable(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    sealed = seal(version)
    name = next(iter(sealed.files))
    with sessions() as session:
        receive(session, version, sealed, name)
        other = dict(sealed.files, **{name: b"\x00" * 32})
        changed = odk.EncryptedSubmission(sealed.manifest, other)
        with pytest.raises(Conflict):
            receive(session, version, changed)
        assert stored_counts(session) == (1, 1)
        receive(session, version, sealed)
        assert stored_counts(session) == (1, 3)


def test_part_over_the_limit_is_refused_with_nothing_stored(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    sealed = seal(version)
    with sessions() as session:
        with pytest.raises(TooLarge) as refused:
            receive(session, version, sealed, max_part_bytes=100)
        assert refused.value.status == 413
        assert stored_counts(session) == (0, 0)


class Unseekable(io.RawIOBase):
    """A stream that can only be read forward (a socket, a pipe)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize(("limit", "fits"), [(10_000, True), (4_000, False)])
def test_unseekable_parts_are_read_within_the_limit(limit: int, fits: bool) -> None:
    part = intake.Part("a.enc", io.BufferedReader(Unseekable(b"z" * 5000)))
    if fits:
        assert intake._read_part(part, limit) == b"z" * 5000
    else:
        with pytest.raises(TooLarge):
            intake._read_part(part, limit)


def test_parts_named_twice_are_refused_before_anything_is_read(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    sealed = seal(version)
    name = next(iter(sealed.files))
    parts = [intake.Part(name, io.BytesIO(b"a")), intake.Part(name, io.BytesIO(b"b"))]
    with sessions() as session:
        with pytest.raises(InvalidInput, match="twice"):
            intake.receive(
                session,
                project_id=version.form.project_id,
                user=None,
                manifest=sealed.manifest,
                parts=parts,
            )
        assert all(p.stream.tell() == 0 for p in parts)
        assert session.scalars(select(SubmissionPart)).all() == []


# --- Group commit: concurrent first uploads share a transaction, and fall back when needed. ---


def test_concurrent_uploads_through_a_committer_are_all_stored(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    committer = groupcommit.Committer()
    sealed = [seal(version, media=1) for _ in range(12)]

    def upload(i: int) -> intake.Receipt:
        with sessions() as session:
            return receive(session, version, sealed[i], committer=committer)

    results = _race(len(sealed), upload)
    assert all(isinstance(r, intake.Receipt) and r.created and r.complete for r in results)
    assert {r.instance_id for r in results if isinstance(r, intake.Receipt)} == {
        odk.parse_manifest(s.manifest).instance_id for s in sealed
    }
    with sessions() as session:
        assert stored_counts(session) == (12, 24)
    assert not committer._leading
    assert committer._queue == []


def test_a_committer_group_with_retries_and_split_parts(
    sessions: sessionmaker[Session], version: FormVersion
) -> None:
    committer = groupcommit.Committer()
    split, same = seal(version, media=2), seal(version)
    names = list(split.files)
    with sessions() as session:
        receive(session, version, split, names[0], committer=committer)
    jobs: list[tuple[odk.EncryptedSubmission, tuple[str, ...]]] = [
        (split, (names[1],)),
        (split, (names[2],)),
        (same, ()),
        (same, ()),
        (seal(version), ()),
    ]

    def upload(i: int) -> intake.Receipt:
        sealed, chosen = jobs[i]
        with sessions() as session:
            return receive(session, version, sealed, *chosen, committer=committer)

    results = _race(len(jobs), upload)
    assert all(isinstance(r, intake.Receipt) for r in results), results
    with sessions() as session:
        assert stored_counts(session) == (3, 9)
        subs = session.scalars(select(Submission).order_by(Submission.id)).all()
        assert [(s.received_parts, s.expected_parts) for s in subs] == [(3, 3)] * 3


def test_a_failed_group_falls_back_to_one_by_one(
    sessions: sessionmaker[Session], version: FormVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    committer = groupcommit.Committer()
    calls: list[int] = []
    original = intake.insert_new

    def flaky(*args: Any) -> intake.Receipt:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return original(*args)

    monkeypatch.setattr(intake, "insert_new", flaky)
    sealed = seal(version)
    with sessions() as session:
        receipt = receive(session, version, sealed, committer=committer)
    assert (receipt.created, receipt.complete) == (True, True)
    with sessions() as session:
        assert stored_counts(session) == (1, 3)
