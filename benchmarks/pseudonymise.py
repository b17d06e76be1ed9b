"""Pseudonymise-and-store throughput against bare HMAC + INSERT, and the rotation job's speed.

In one run, on one fresh database, committing once per submission and once per batch as the
worker claims it (``collector.worker.CLAIM_BATCH``):
- ours: what the worker does with decrypted submissions: ``records.prepare_batch`` (flatten
  with the form model, normalise and HMAC every identifier, generalise quasi-identifiers,
  seal sensitive values), mark each processed, ``records.write_batch`` (vault new subjects,
  insert the records), commit, for N PROFILE instances already received and decrypted (the
  rows are loaded and the instances made before timing: the worker loads a batch to decrypt
  it, and decryption has a benchmark of its own, ``intake.py``);
- baseline: for the same N instances, HMAC-SHA256 of the same identifier values and an INSERT
  of a JSON row of the same size, and one vault row per identifier value;
- rotation: ``collector.pseudorotate.rotate`` over every subject the run created (rows/s).

The goal is ours/baseline >= 0.5. Nothing here is a test: run it by hand.

    .venv/bin/python benchmarks/pseudonymise.py -n 2000 [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime

from _common import database, profile_xml, published, received_rows, sessions_for, timed
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select, update
from sqlalchemy.orm import selectinload

from collector import pseudorotate, records, vault, worker
from collector.db import among
from collector.models import Subject, Submission, SubmissionRecord, SubmissionState, utcnow
from collector.worker import CLAIM_BATCH
from keys.odk import DecryptedSubmission, SignatureStatus

GOAL = 0.5


Item = tuple[Submission, DecryptedSubmission]


# The lease under which run_ours holds its rows, as a worker holds the rows it claimed.
LEASE_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


def decrypted(sessions, version, ids: list[int]) -> list[Item]:  # type: ignore[no-untyped-def]
    """The input both sides get: the received submissions, claimed, and their decrypted
    instances, as the worker holds them once it has decrypted a batch (before the clock)."""
    n = len(ids)
    with sessions() as session, session.begin():
        connection = session.connection()
        connection.execute(
            update(Submission)
            .where(among(Submission.id, ids, connection.dialect.name))
            .values(claimed_until=LEASE_UNTIL)
        )
    with sessions() as session:
        subs = session.scalars(
            select(Submission)
            .where(Submission.id.in_(ids))
            .options(selectinload(Submission.form_version))
        ).all()
        session.expunge_all()
    return [
        (
            sub,
            DecryptedSubmission(
                sub.instance_id,
                profile_xml(version, sub.id % (n // 2 or 1), sub.instance_id),
                {},
                SignatureStatus.VALID,
            ),
        )
        for sub in subs
    ]


def run_ours(sessions, kek: bytes, items: list[Item], every: int) -> None:  # type: ignore[no-untyped-def]
    """What the worker does with a decrypted batch: ``records.prepare_batch``, mark the batch
    processed while its lease holds (``worker.set_final``), ``records.write_batch``, commit."""
    secrets_cache = vault.Secrets(kek)
    with sessions() as session:
        for start in range(0, len(items), every):
            chunk = items[start : start + every]
            # As the worker does: prepare (CPU), mark (the first write), then write the batch.
            ready, failures = records.prepare_batch(session, chunk, secrets_cache)
            # The worker's own conditional UPDATE, on rows it holds under one lease.
            values = worker.final_values(SubmissionState.PROCESSED, None, chunk[0][1], utcnow())
            ids = [s.id for s, _r in chunk]
            marked = worker.set_final(session.connection(), ids, LEASE_UNTIL, values)
            assert len(marked) == len(ids)
            failures |= records.write_batch(session, kek, ready)
            assert not failures, failures
            session.commit()


def run_prepare_only(sessions, kek: bytes, items: list[Item]) -> None:  # type: ignore[no-untyped-def]
    """Only the CPU step of ours (``records.prepare_batch``), for the same instances: a bound."""
    secrets_cache = vault.Secrets(kek)
    with sessions() as session:
        for start in range(0, len(items), CLAIM_BATCH):
            records.prepare_batch(session, items[start : start + CLAIM_BATCH], secrets_cache)


IDENTIFIERS = ("full_name", "phone", "passport_no", "member_name")


def run_baseline(
    engine,
    xmls: list[bytes],
    every: int,
    record_size: int,  # type: ignore[no-untyped-def]
    sealed_size: int,
) -> None:
    """HMAC the same identifier values and INSERT the same rows: one record per submission
    and one vault row per identifier value (without lookups, normalisation or sealing)."""
    meta = MetaData()
    records_t = Table(
        "bench_records", meta, Column("id", Integer, primary_key=True), Column("data", Text)
    )
    subjects_t = Table(
        "bench_subjects",
        meta,
        Column("id", Integer, primary_key=True),
        Column("token", Text),
        Column("sealed", Text),
    )
    meta.create_all(engine)
    key = secrets.token_bytes(32)
    pad = "x" * sealed_size
    for start in range(0, len(xmls), every):
        with engine.begin() as connection:
            records_rows, subject_rows = [], []
            for raw in xmls[start : start + every]:
                xml = raw.decode()
                tokens = [
                    hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in _values(xml)
                ]
                records_rows.append({"data": json.dumps(tokens).ljust(record_size)})
                subject_rows += [{"token": t, "sealed": pad} for t in tokens]
            connection.execute(insert(records_t), records_rows)
            connection.execute(insert(subjects_t), subject_rows)


def _values(xml: str) -> list[str]:
    out = []
    for tag in IDENTIFIERS:
        for chunk in xml.split(f"<{tag}>")[1:]:
            out.append(chunk.split(f"</{tag}>")[0])
    return out


def _sizes(sessions) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        record = session.scalars(select(SubmissionRecord.data).limit(1)).one()
        sealed = session.scalars(select(Subject.sealed_original).limit(1)).one()
        key = session.scalars(select(Subject.sealed_data_key).limit(1)).one()
    return len(record), len(sealed or b"") + len(key or b"")


def _reset(engine) -> None:  # type: ignore[no-untyped-def]
    """Drop the baseline tables so the next round starts equal (the vault keeps growing:
    later rounds look up more existing subjects, as a real project does)."""
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE bench_records")
        connection.exec_driver_sql("DROP TABLE bench_subjects")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    kek = secrets.token_bytes(32)
    with database(args.database_url) as engine:
        sessions = sessions_for(engine)
        version = published(sessions, kek)
        figures = {}
        # The worker freezes what its start-up built (api.cli_server); so does this process,
        # before either side runs.
        gc.freeze()
        for every in (1, CLAIM_BATCH):
            with sessions() as session:  # The received submissions exist before the clock runs.
                ids = received_rows(session, version, args.n)
                session.commit()
            items = decrypted(sessions, version, ids)
            xmls = [result.xml for _sub, result in items]
            ours = timed(lambda e=every, i=items: run_ours(sessions, kek, i, e))
            record_size, sealed_size = _sizes(sessions)
            sizes = (record_size, sealed_size)
            base = timed(lambda e=every, z=sizes, x=xmls: run_baseline(engine, x, e, *z))
            figures[every] = (ours, base)
            _reset(engine)
        prepared = timed(lambda: run_prepare_only(sessions, kek, items))
        with sessions() as session:
            subjects = len(session.scalars(select(Subject.id)).all())
        start = time.perf_counter()
        result = pseudorotate.rotate(sessions, kek, version.form.project_id, batch=500)
        rotation = time.perf_counter() - start
    print(f"backend: {engine.dialect.name}, submissions: {args.n} per run, subjects: {subjects}")
    for every, (ours, base) in figures.items():
        ratio = base / ours
        label = (
            "one commit per submission"
            if every == 1
            else f"one commit per {every} submissions (the worker's claimed batch)"
        )
        print(f"{label}:")
        print(f"  pseudonymise + store: {args.n / ours:8.1f} submissions/s")
        print(f"  bare HMAC + INSERT:   {args.n / base:8.1f} submissions/s")
        print(
            f"  ratio (ours / baseline): {ratio:.2f}  (goal >= {GOAL}: "
            f"{'met' if ratio >= GOAL else 'NOT met'})"
        )
    print(
        "CPU step alone (records.prepare_batch: flatten, normalise, HMAC, generalise, seal; no "
        f"database): {args.n / prepared:8.1f} submissions/s\n"
        f"  so even with free storage, ours / baseline at {CLAIM_BATCH} per commit <= "
        f"{figures[CLAIM_BATCH][1] / prepared:.2f}"
    )
    print(
        f"pseudonym-key rotation: {result.rederived / rotation:8.1f} subjects/s "
        f"({result.rederived} re-derived)"
    )


if __name__ == "__main__":
    main()
