"""Decryption workers: claim received submissions, decrypt, store, mark processed or failed.

Claims are leases (``claimed_until``): a row is taken with a conditional UPDATE that only one
worker can win, after ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL so that concurrent
workers do not even queue on the same rows. A crashed worker's lease simply runs out. The final
transition ``received -> processed`` is itself conditional, so no submission is processed twice.
A claimed batch is decrypted first and written in one transaction, one durable flush per batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Update, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from collector import entityflow, records, submissions, vault
from collector.audit import SYSTEM
from collector.db import among, among_param
from collector.decryption import INTERNAL, REASONS, Batch, Claim, Opener, Outcome, blame
from collector.errors import ProcessingFailed as Failure
from collector.models import (
    Submission,
    SubmissionPart,
    SubmissionState,
    utcnow,
)
from keys import odk

log = logging.getLogger(__name__)

# A crashed worker's claims block others this long; a live worker renews at half-time.
LEASE = timedelta(seconds=60)
# How long an upload missing parts waits for them before it is marked failed (missing-media).
MISSING_MEDIA_GRACE = timedelta(hours=24)
# Submissions claimed at once: a batch's fixed costs (claim, loads, one lookup, one commit)
# spread over this many; its memory is bounded by BATCH_BYTES whatever the count.
CLAIM_BATCH = 128
# The least a worker takes of a backlog shorter than a batch (it takes half of one).
MIN_SHARE = 8
# How many times a claim looks again after another worker won every row it selected.
CLAIM_ATTEMPTS = 5
# Ciphertext processed per transaction (memory holds it and its plaintext at once).
BATCH_BYTES = 32 * 1024 * 1024


@dataclass
class Decryptor:
    """One worker's state: sessions, the master key and a cache of unsealed private keys.

    ``lease`` bounds how long a crashed worker's claims block others; ``missing_media_grace``
    is how long an incomplete upload may wait for its remaining parts before it is marked
    failed (``missing-media``); None never marks them.
    """

    sessions: sessionmaker[Session]
    kek: bytes
    lease: timedelta = LEASE
    missing_media_grace: timedelta | None = MISSING_MEDIA_GRACE
    batch_bytes: int = BATCH_BYTES
    secrets: vault.Secrets = field(init=False, repr=False)
    opener: Opener = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.secrets = vault.Secrets(self.kek)
        self.opener = Opener(self.kek, self.secrets)

    def claim(self, limit: int = CLAIM_BATCH) -> list[Claim]:
        """Claim up to ``limit`` complete, unclaimed submissions (one lease for the batch)."""
        now = utcnow()
        claimable = (
            Submission.state == SubmissionState.RECEIVED.value,
            Submission.received_parts == Submission.expected_parts,
            or_(Submission.claimed_until.is_(None), Submission.claimed_until < now),
        )
        for _attempt in range(CLAIM_ATTEMPTS):
            with self.sessions() as session, session.begin():
                stmt = select(Submission.id).where(*claimable).order_by(Submission.id)
                stmt = stmt.limit(limit)
                dialect = session.get_bind().dialect.name
                if dialect == "postgresql":
                    stmt = stmt.with_for_update(skip_locked=True)
                ids = session.scalars(stmt).all()
                if not ids:
                    return []
                if len(ids) < limit:
                    # A backlog shorter than a batch: take half, so other workers share it.
                    ids = ids[: max(MIN_SHARE, (len(ids) + 1) // 2)]
                until = utcnow() + self.lease
                # Conditional again: on SQLite the SELECT did not lock, another worker may
                # have won these rows meanwhile.
                won = session.connection().execute(
                    update(Submission)
                    .where(among(Submission.id, ids, dialect), *claimable)
                    .values(claimed_until=until)
                    .returning(Submission.id)
                )
                claims = [Claim(sid, until) for sid in sorted(won.scalars())]
            if claims:
                return claims
            # Lost the race for every row while others wait: look again at once rather than
            # report an empty queue (the run loop would then sleep).
        return []

    def _held(self, claim: Claim) -> ColumnElement[bool]:
        """The condition under which this worker still holds a claim."""
        return and_(
            Submission.id == claim.submission_id,
            Submission.state == SubmissionState.RECEIVED.value,
            Submission.claimed_until == claim.until,
        )

    def _renew(self, claim: Claim) -> Claim | None:
        """Extend a claim that has used half its lease; None if another worker took it over."""
        if claim.until - utcnow() > self.lease / 2:
            return claim
        renewed = Claim(claim.submission_id, utcnow() + self.lease)
        with self.sessions() as session, session.begin():
            won = session.execute(
                update(Submission).where(self._held(claim)).values(claimed_until=renewed.until)
            )
        return renewed if won.rowcount == 1 else None  # type: ignore[attr-defined]

    def process(self, claim: Claim) -> str:
        """Decrypt and store one claimed submission; return its new state."""
        return self.process_batch([claim])[claim.submission_id]

    def process_batch(self, claims: list[Claim]) -> dict[int, str]:
        """Decrypt claimed submissions, then store them together, a few megabytes at a time.

        Decryption (the CPU work) happens before any write; the writes of a chunk share one
        commit, so small submissions cost one durable flush per chunk, not one each, while a
        chunk's ciphertext and plaintext stay within ``batch_bytes`` (a lone large submission
        is its own chunk). Claims are renewed before each chunk, so a long batch keeps them;
        each result is written only while its claim still holds, so nothing is stored twice.
        """
        states = {c.submission_id: "skipped" for c in claims}
        for chunk in self._chunks(claims):
            held = [c for c in map(self._renew, chunk) if c is not None]
            if held:
                states |= self._process_chunk(held)
        return states

    def _chunks(self, claims: list[Claim]) -> Iterator[list[Claim]]:
        if not claims:
            return
        with self.sessions() as session:
            ids = [c.submission_id for c in claims]
            rows = session.execute(
                select(SubmissionPart.submission_id, func.sum(SubmissionPart.size))
                .where(among(SubmissionPart.submission_id, ids, session.get_bind().dialect.name))
                .group_by(SubmissionPart.submission_id)
            )
            sizes = {sid: int(size or 0) for sid, size in rows}
        chunk: list[Claim] = []
        total = 0
        for claim in claims:
            size = sizes.get(claim.submission_id, 0)
            if chunk and total + size > self.batch_bytes:
                yield chunk
                chunk, total = [], 0
            chunk.append(claim)
            total += size
        if chunk:
            yield chunk

    def _process_chunk(self, claims: list[Claim]) -> dict[int, str]:
        held = {c.submission_id: c for c in claims}
        with self.sessions() as session:
            batch = Batch(session, list(held))
            states = dict(batch.not_received)
            outcomes = [self._outcome(batch, held[sid], sub) for sid, sub in batch.subs.items()]
            try:
                states |= self._write(session, outcomes)
                session.commit()
            except OperationalError:
                # The database, not the submissions, failed (lost connection, deadlock): they
                # stay received and their claims are released for another try.
                log.exception("a batch of %d submissions: database error", len(outcomes))
                session.rollback()
                self._release([o.claim for o in outcomes])
                return states | {o.claim.submission_id: "received" for o in outcomes}
        for outcome in outcomes:
            sid, state = outcome.claim.submission_id, states[outcome.claim.submission_id]
            if state == SubmissionState.PROCESSED.value and outcome.result is not None:
                log.info("submission %s processed (signature %s)", sid, outcome.result.signature)
            elif state == SubmissionState.FAILED.value and outcome.failure is not None:
                log.warning("submission %s failed: %s", sid, outcome.failure.reason)
        return states

    def _outcome(self, batch: Batch, claim: Claim, submission: Submission) -> Outcome:
        try:
            result = self.opener.decrypt(batch, submission)
        except Failure as failure:
            return Outcome(claim, submission, failure=failure)
        except Exception:
            log.exception("submission %s: unexpected decryption error", claim.submission_id)
            return Outcome(claim, submission, failure=Failure("internal-error", INTERNAL))
        return Outcome(claim, submission, result=result)

    def _write(self, session: Session, outcomes: list[Outcome]) -> dict[int, str]:
        """Prepare the decrypted outcomes (CPU, before any write), mark every outcome whose
        claim still holds, then write the prepared ones together.

        A submission whose preparing or writing fails is marked again, failed, over our mark.
        """
        decrypted = [(o.submission, o.result) for o in outcomes if o.result is not None]
        ready, failures = records.prepare_batch(session, decrypted, self.secrets)
        held = self._mark_held(session, outcomes)
        states: dict[int, str] = {}
        won: list[Outcome] = []
        for outcome in outcomes:
            sid = outcome.claim.submission_id
            if sid not in held:
                states[sid] = "skipped"
                continue
            states[sid] = (
                SubmissionState.PROCESSED if outcome.result else SubmissionState.FAILED
            ).value
            if outcome.result is not None:
                won.append(outcome)
        mine = {o.submission.id for o in won}
        failures |= records.write_batch(
            session, self.secrets.kek, [p for p in ready if p.submission_id in mine]
        )
        for outcome in won:
            failure = failures.get(outcome.submission.id)
            if failure is None or outcome.result is None:
                continue
            outcome.failure = blame(failure, outcome.result)
            self._mark(
                session, outcome.claim, SubmissionState.FAILED, outcome.failure, None, again=True
            )
            states[outcome.claim.submission_id] = SubmissionState.FAILED.value
        for item in ready:
            stored = item.submission_id in mine and item.submission_id not in failures
            if item.entity is not None and stored:
                entityflow.apply(session, self.secrets, item.entity)
        return states

    def _mark_held(self, session: Session, outcomes: list[Outcome]) -> set[int]:
        """Set every outcome's final state while its claim holds; return the ids marked.

        Outcomes that set the same values under the same lease share one conditional UPDATE
        (the processed ones of a batch, as a rule), which returns the rows it won.
        """
        now = utcnow()
        groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[int]]] = {}
        for outcome in outcomes:
            state = SubmissionState.PROCESSED if outcome.result else SubmissionState.FAILED
            values = final_values(state, outcome.failure, outcome.result, now)
            key = (outcome.claim.until, *sorted(values.items()))
            groups.setdefault(key, (values, []))[1].append(outcome.claim.submission_id)
        marked: set[int] = set()
        connection = session.connection()
        for (until, *_values), (values, ids) in groups.items():
            marked |= set_final(connection, ids, until, values)
        return marked

    def _mark(
        self,
        session: Session,
        claim: Claim,
        state: SubmissionState,
        failure: Failure | None,
        result: odk.DecryptedSubmission | None,
        again: bool = False,
    ) -> bool:
        """Set the final state while the claim holds (or, ``again``, over our own mark)."""
        values = final_values(state, failure, result, utcnow())
        if again:
            values["signature"] = None
            where = Submission.id == claim.submission_id
        else:
            values["attempts"] = Submission.attempts + 1
            where = self._held(claim)
        won = session.connection().execute(update(Submission).where(where).values(**values))
        return won.rowcount == 1

    def _release(self, claims: list[Claim]) -> None:
        with self.sessions() as session, session.begin():
            for claim in claims:
                session.execute(
                    update(Submission).where(self._held(claim)).values(claimed_until=None)
                )

    def sweep_incomplete(self) -> int:
        """Mark uploads still missing parts after the grace period failed (``missing-media``).

        Nothing is lost: when a missing part arrives later, intake puts the submission back in
        the queue.
        """
        if self.missing_media_grace is None:
            return 0
        cutoff = utcnow() - self.missing_media_grace
        with self.sessions() as session, session.begin():
            result = session.execute(
                update(Submission)
                .where(
                    Submission.state == SubmissionState.RECEIVED.value,
                    Submission.received_parts < Submission.expected_parts,
                    func.coalesce(Submission.updated_at, Submission.created_at) <= cutoff,
                )
                .values(
                    state=SubmissionState.FAILED.value,
                    reason="missing-media",
                    reason_detail=REASONS["missing-media"],
                    updated_at=utcnow(),
                )
            )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            log.warning("%d incomplete submissions failed: missing-media", count)
        return count

    def purge_deleted(self) -> int:
        """Remove the submissions deleted more than ``submissions.PURGE_AFTER`` ago, as
        ``collector submissions purge`` does (``run`` calls it hourly); return how many."""
        with self.sessions() as session, session.begin():
            count = submissions.purge(session, actor=SYSTEM)
        if count:
            log.info("%d deleted submissions purged", count)
        return count

    def run_once(self, limit: int = CLAIM_BATCH) -> int:
        """Claim and process one batch; return how many were claimed."""
        claims = self.claim(limit)
        if claims:
            self.process_batch(claims)
        return len(claims)

    def drain(self) -> int:
        """Sweep incomplete uploads once, then process until the queue is empty."""
        total = self.sweep_incomplete()
        while batch := self.run_once():
            total += batch
        return total

    def run(
        self,
        stop: threading.Event,
        wake: threading.Event | None = None,
        idle: float = 1.0,
        on_batch: Callable[[int], None] | None = None,
        sweep_every: float = 60.0,
        purge_every: float = 3600.0,
    ) -> None:
        """Work until ``stop`` is set; sleep ``idle`` seconds (or until woken) when idle.
        Incomplete uploads are swept every ``sweep_every`` seconds, and deleted submissions
        past their 30 days purged every ``purge_every`` (so that the promise holds without a
        cron job)."""
        log.info("decryption worker started (lease %ss)", self.lease.total_seconds())
        next_sweep = next_purge = 0.0
        while not stop.is_set():
            count = 0
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + sweep_every
                    self.sweep_incomplete()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + purge_every
                    self.purge_deleted()
                count = self.run_once()
            except Exception:
                log.exception("worker batch failed; retrying")
            if on_batch and count:
                on_batch(count)
            if count == 0:
                if wake is not None:
                    wake.wait(idle)
                    wake.clear()
                else:
                    stop.wait(idle)


def retry(
    session: Session, submission_ids: list[int] | None = None, *, project_id: int | None = None
) -> int:
    """Put failed submissions back in the queue (all of a project's, or the given ids)."""
    stmt = update(Submission).where(Submission.state == SubmissionState.FAILED.value)
    if submission_ids is not None:
        stmt = stmt.where(Submission.id.in_(submission_ids))
    if project_id is not None:
        stmt = stmt.where(Submission.project_id == project_id)
    result = session.execute(
        stmt.values(
            state=SubmissionState.RECEIVED.value,
            reason=None,
            reason_detail=None,
            claimed_until=None,
            updated_at=utcnow(),
        )
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_final(
    connection: Connection, ids: list[int], until: datetime, values: dict[str, Any]
) -> set[int]:
    """Set final-state ``values`` (``final_values``) on the rows among ``ids`` still held
    under the lease ``until``; return the ids it set (one statement)."""
    statement = _final_statement(connection.dialect.name, tuple(sorted(values)))
    params = {f"new_{name}": value for name, value in values.items()}
    return set(connection.execute(statement, {"ids": ids, "until": until, **params}).scalars())


@lru_cache(maxsize=16)
def _final_statement(dialect: str, columns: tuple[str, ...]) -> Update:
    """The conditional UPDATE that sets a final state on the claimed rows it still holds
    (built once per dialect and set of columns: building it costs more than running it)."""
    return (
        update(Submission)
        .where(
            among_param(Submission.id, "ids", dialect),
            Submission.state == SubmissionState.RECEIVED.value,
            Submission.claimed_until == bindparam("until"),
        )
        .values(attempts=Submission.attempts + 1, **{c: bindparam(f"new_{c}") for c in columns})
        .returning(Submission.id)
    )


def final_values(
    state: SubmissionState,
    failure: Failure | None,
    result: odk.DecryptedSubmission | None,
    now: datetime,
) -> dict[str, Any]:
    """The columns a submission's final state sets (its claim released)."""
    values: dict[str, Any] = {"state": state.value, "updated_at": now, "claimed_until": None}
    if failure is not None:
        detail = failure.detail[:2000] or REASONS.get(failure.reason)
        values |= {"reason": failure.reason, "reason_detail": detail, "processed_at": None}
    if result is not None:
        values |= {"signature": result.signature.value, "processed_at": now}
    return values
