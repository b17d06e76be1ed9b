"""Decryption workers: exclusive claims, leases that expire and renew, exactly-once results."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from collector import worker
from collector.db import session_factory
from collector.models import FormVersion, Submission, SubmissionRecord, utcnow
from collector.records import Prepared
from collector.worker import Claim, Decryptor
from tests.support.pipeline import publish, submit
from tests.support.xlsform import FIELD_VISIT

VALUES = "<full_name>Ali</full_name><age>40</age><story>s</story>"


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


@pytest.fixture
def version(sessions: sessionmaker[Session], kek: bytes) -> FormVersion:
    with sessions() as session, session.begin():
        return publish(session, kek, FIELD_VISIT)


def received(sessions: sessionmaker[Session], version: FormVersion, count: int) -> list[str]:
    with sessions() as session:
        return [submit(session, version, VALUES) for _ in range(count)]


def states(sessions: sessionmaker[Session]) -> list[tuple[str, int, str | None]]:
    with sessions() as session:
        rows = session.scalars(select(Submission).order_by(Submission.id))
        return [(s.state, s.attempts, s.reason) for s in rows]


def records(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(SubmissionRecord)) or 0)


def test_claims_are_exclusive(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 5)
    first, second = Decryptor(sessions, kek), Decryptor(sessions, kek)
    mine, theirs = first.claim(3), second.claim(16)
    assert len(mine) == 3
    assert len(theirs) == 2
    assert not {c.submission_id for c in mine} & {c.submission_id for c in theirs}
    assert first.claim() == []


def test_a_worker_that_lost_its_lease_cannot_finish(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 1)
    slow = Decryptor(sessions, kek, lease=timedelta(milliseconds=1))
    [stale] = slow.claim()
    threading.Event().wait(0.01)
    fast = Decryptor(sessions, kek)
    [taken] = fast.claim()
    assert taken.submission_id == stale.submission_id
    # The first worker renews at half-time: its claim is gone, so it stops.
    assert slow.process(stale) == "skipped"
    assert fast.process(taken) == "processed"
    assert states(sessions) == [("processed", 1, None)]
    assert records(sessions) == 1


def test_a_finished_claim_cannot_be_finished_again(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 1)
    decryptor = Decryptor(sessions, kek)
    [claim] = decryptor.claim()
    assert decryptor.process(claim) == "processed"
    # Processing it again only reports the state it is in; nothing is decrypted or counted.
    assert decryptor.process(claim) == "processed"
    assert states(sessions) == [("processed", 1, None)]
    assert records(sessions) == 1


def test_a_claim_near_its_end_is_renewed(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 1)
    decryptor = Decryptor(sessions, kek, lease=timedelta(seconds=60))
    [claim] = decryptor.claim()
    old = Claim(claim.submission_id, utcnow() + timedelta(seconds=10))
    with sessions() as session, session.begin():
        session.execute(
            update(Submission)
            .where(Submission.id == claim.submission_id)
            .values(claimed_until=old.until)
        )
    renewed = decryptor._renew(old)
    assert renewed is not None
    assert renewed.until > old.until + timedelta(seconds=40)
    assert decryptor.process(renewed) == "processed"


def test_a_crashed_workers_claims_free_up_when_the_lease_ends(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 3)
    crashed = Decryptor(sessions, kek, lease=timedelta(milliseconds=50))
    assert len(crashed.claim()) == 3  # ...and then it dies without processing anything.
    survivor = Decryptor(sessions, kek)
    assert survivor.claim() == []
    threading.Event().wait(0.1)
    assert survivor.drain() == 3
    assert states(sessions) == [("processed", 1, None)] * 3


def test_database_errors_leave_the_submission_received(
    sessions: sessionmaker[Session],
    version: FormVersion,
    kek: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received(sessions, version, 1)

    def lost(*_args: object) -> None:
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(worker.records, "write", lost)
    decryptor = Decryptor(sessions, kek)
    [claim] = decryptor.claim()
    assert decryptor.process(claim) == "received"
    assert states(sessions) == [("received", 0, None)]


def test_unexpected_errors_fail_as_internal_error(
    sessions: sessionmaker[Session],
    version: FormVersion,
    kek: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received(sessions, version, 1)

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(worker.records, "write", broken)
    Decryptor(sessions, kek).drain()
    assert states(sessions) == [("failed", 1, "internal-error")]
    monkeypatch.undo()
    with sessions() as session:
        assert worker.retry(session, project_id=version.form.project_id) == 1
    Decryptor(sessions, kek).drain()
    assert states(sessions) == [("processed", 2, None)]


def test_one_bad_submission_in_a_batch_fails_alone(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 2)
    with sessions() as session:
        # Its instanceID is not the envelope's: it decrypts, then fails as it is prepared.
        submit(session, version, VALUES, inner_instance_id=f"uuid:{uuid.uuid4()}")
    received(sessions, version, 1)
    [claims] = [Decryptor(sessions, kek).claim()]
    assert len(claims) == 4
    Decryptor(sessions, kek).process_batch(claims)
    assert [s for s, _a, _r in states(sessions)] == ["processed"] * 2 + ["failed", "processed"]
    assert states(sessions)[2][2] == "instance-mismatch"
    assert records(sessions) == 3


def test_a_batch_whose_write_fails_is_written_one_by_one(
    sessions: sessionmaker[Session],
    version: FormVersion,
    kek: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received(sessions, version, 3)
    real_write = worker.records.write

    def refuses_the_second(session: Session, kek: bytes, batch: list[Prepared]) -> None:
        if any(item.submission_id == 2 for item in batch):
            raise RuntimeError("a bug that only this submission's record triggers")
        real_write(session, kek, batch)

    monkeypatch.setattr(worker.records, "write", refuses_the_second)
    Decryptor(sessions, kek).drain()
    assert states(sessions) == [
        ("processed", 1, None),
        ("failed", 1, "internal-error"),
        ("processed", 1, None),
    ]
    assert records(sessions) == 2


def test_retry_touches_only_failed_submissions_of_the_given_ids(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 3)
    with sessions() as session, session.begin():
        session.execute(
            update(Submission)
            .where(Submission.id.in_([1, 2]))
            .values(state="failed", reason="unknown-key")
        )
    with sessions() as session:
        assert worker.retry(session, [2, 3]) == 1
    assert states(sessions) == [
        ("failed", 0, "unknown-key"),
        ("received", 0, None),
        ("received", 0, None),
    ]


def test_sweep_only_marks_incomplete_uploads_past_the_grace(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 2)
    with sessions() as session, session.begin():
        session.execute(update(Submission).where(Submission.id == 1).values(received_parts=0))
    assert Decryptor(sessions, kek, missing_media_grace=None).sweep_incomplete() == 0
    assert Decryptor(sessions, kek, missing_media_grace=timedelta(hours=1)).sweep_incomplete() == 0
    assert Decryptor(sessions, kek, missing_media_grace=timedelta(0)).sweep_incomplete() == 1
    assert states(sessions)[0] == ("failed", 0, "missing-media")


def test_run_works_until_stopped(
    sessions: sessionmaker[Session], version: FormVersion, kek: bytes
) -> None:
    received(sessions, version, 4)
    stop, done = threading.Event(), threading.Event()
    processed: list[int] = []

    def on_batch(count: int) -> None:
        processed.append(count)
        if sum(processed) == 4:
            done.set()

    thread = threading.Thread(
        target=Decryptor(sessions, kek).run, args=(stop,), kwargs={"on_batch": on_batch}
    )
    thread.start()
    assert done.wait(30)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert states(sessions) == [("processed", 1, None)] * 4


def test_a_batch_is_written_in_chunks_of_bounded_size(
    sessions: sessionmaker[Session],
    version: FormVersion,
    kek: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sessions() as session:
        for size in (3000, 3000, 9000, 100):
            submit(session, version, VALUES, media=[("photo.jpg", b"p" * size)])
    decryptor = Decryptor(sessions, kek, batch_bytes=8000)
    chunks: list[list[int]] = []
    original = decryptor._process_chunk

    def recorded(claims: list[Claim]) -> dict[int, str]:
        chunks.append([c.submission_id for c in claims])
        return original(claims)

    monkeypatch.setattr(decryptor, "_process_chunk", recorded)
    assert decryptor.drain() == 4
    # Two small ones fit together; the large one is alone; the last small one follows it.
    assert chunks == [[1, 2], [3], [4]]
    assert states(sessions) == [("processed", 1, None)] * 4
    assert records(sessions) == 4
