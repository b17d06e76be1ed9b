"""Decryption workers: claim received submissions, decrypt, store, mark processed or failed.

Claims are leases (``claimed_until``): a row is taken with a conditional UPDATE that only one
worker can win, after ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL so that concurrent
workers do not even queue on the same rows. A crashed worker's lease simply runs out. The final
transition ``received -> processed`` is itself conditional, so no submission is processed twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from collector import keyring, records, submissions, vault
from collector.errors import CollectorError
from collector.errors import ProcessingFailed as Failure
from collector.models import (
    KeyGeneration,
    Submission,
    SubmissionPart,
    SubmissionState,
    utcnow,
)
from keys import odk
from keys.errors import DecryptionFailed, KeysError, ManifestError, MissingFile
from keys.odk import SignatureStatus

log = logging.getLogger(__name__)

# A crashed worker's claims block others this long; a live worker renews at half-time.
LEASE = timedelta(seconds=60)
# How long an upload missing parts waits for them before it is marked failed (missing-media).
MISSING_MEDIA_GRACE = timedelta(hours=24)

# Reason codes a failed submission carries (shown by `collector submissions list`).
REASONS = {
    "unknown-key": "no key generation of the project opens this submission's key",
    "key-destroyed": "the key generation this form version used was destroyed",
    "corrupt-file": "an encrypted file does not decrypt (damaged or tampered ciphertext)",
    "missing-media": "a file named in the manifest never arrived",
    "instance-mismatch": "the decrypted instance does not belong to this form",
    "bad-manifest": "the stored manifest does not parse",
    "internal-error": "an unexpected error; see the server log",
}


@dataclass(frozen=True)
class Claim:
    """A submission this worker holds until ``until`` (the lease doubles as the claim's token)."""

    submission_id: int
    until: datetime


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
    _keys: dict[int, RSAPrivateKey] = field(default_factory=dict, repr=False)
    secrets: vault.Secrets = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.secrets = vault.Secrets(self.kek)

    def claim(self, limit: int = 16) -> list[Claim]:
        """Claim up to ``limit`` complete, unclaimed submissions."""
        now = utcnow()
        with self.sessions() as session, session.begin():
            stmt = (
                select(Submission.id)
                .where(
                    Submission.state == SubmissionState.RECEIVED.value,
                    Submission.received_parts == Submission.expected_parts,
                    or_(Submission.claimed_until.is_(None), Submission.claimed_until < now),
                )
                .order_by(Submission.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            claims = []
            for sid in session.scalars(stmt).all():
                until = utcnow() + self.lease
                won = session.execute(
                    update(Submission)
                    .where(
                        Submission.id == sid,
                        Submission.state == SubmissionState.RECEIVED.value,
                        or_(Submission.claimed_until.is_(None), Submission.claimed_until < now),
                    )
                    .values(claimed_until=until)
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    claims.append(Claim(sid, until))
        return claims

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
        held = self._renew(claim)
        if held is None:
            return "skipped"
        with self.sessions() as session:
            submission = session.get(Submission, held.submission_id)
            if submission is None or submission.state != SubmissionState.RECEIVED.value:
                return submission.state if submission else "missing"
            try:
                result = self._decrypt(session, submission)
                _store(session, submission, result, self.secrets)
            except Failure as failure:
                session.rollback()
                return self._fail(session, held, failure.reason, failure.detail)
            except OperationalError:
                # The database, not the submission, failed (connection lost, deadlock): leave it
                # received; the lease runs out and a worker tries again.
                log.exception("submission %s: database error; will retry", held.submission_id)
                session.rollback()
                return SubmissionState.RECEIVED.value
            except Exception:
                log.exception("submission %s: unexpected processing error", held.submission_id)
                session.rollback()
                return self._fail(session, held, "internal-error", "see the server log")
            return self._finish(session, held, result.signature.value)

    def _finish(self, session: Session, claim: Claim, signature: str) -> str:
        won = session.execute(
            update(Submission)
            .where(self._held(claim))
            .values(
                state=SubmissionState.PROCESSED.value,
                signature=signature,
                processed_at=utcnow(),
                updated_at=utcnow(),
                claimed_until=None,
                attempts=Submission.attempts + 1,
            )
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return "skipped"
        session.commit()
        log.info("submission %s processed (signature %s)", claim.submission_id, signature)
        return SubmissionState.PROCESSED.value

    def _fail(self, session: Session, claim: Claim, reason: str, detail: str) -> str:
        won = session.execute(
            update(Submission)
            .where(self._held(claim))
            .values(
                state=SubmissionState.FAILED.value,
                reason=reason,
                reason_detail=detail[:2000] or REASONS.get(reason),
                updated_at=utcnow(),
                claimed_until=None,
                attempts=Submission.attempts + 1,
            )
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return "skipped"
        session.commit()
        log.warning("submission %s failed: %s", claim.submission_id, reason)
        return SubmissionState.FAILED.value

    def _decrypt(self, session: Session, submission: Submission) -> odk.DecryptedSubmission:
        if submission.envelope == submissions.SEALED:
            # Plaintext that arrived over the REST API, sealed under the project's data key.
            return submissions.open_sealed(session, self.secrets, submission)
        try:
            envelope = odk.parse_manifest(submission.manifest)
        except ManifestError as exc:
            raise Failure("bad-manifest", str(exc)) from None
        parts = {
            p.name: p.data
            for p in session.scalars(
                select(SubmissionPart).where(SubmissionPart.submission_id == submission.id)
            )
        }
        candidates = self._candidate_keys(session, submission)
        for key in candidates:
            try:
                return odk.decrypt_submission(envelope, key, parts)
            except MissingFile as exc:
                raise Failure("missing-media", f"{exc.name} never arrived") from None
            except DecryptionFailed as exc:
                if exc.stage != "unwrap":
                    raise Failure(
                        "corrupt-file", f"{exc.file or 'a file'} does not decrypt"
                    ) from None
            except KeysError as exc:
                raise Failure("corrupt-file", str(exc)) from None
        own = submission.form_version.key_generation
        if own is not None and own.sealed_private_key is None:
            raise Failure("key-destroyed", f"key generation {own.generation} was destroyed")
        raise Failure("unknown-key", REASONS["unknown-key"])

    def _candidate_keys(self, session: Session, submission: Submission) -> list[RSAPrivateKey]:
        """The form version's own generation first, then every other usable one."""
        rows = keyring.generations(session, submission.project_id)
        own = submission.form_version.key_generation_id
        rows.sort(key=lambda r: (r.id != own, -r.generation))
        return [self._key(session, r) for r in rows if r.sealed_private_key is not None]

    def _key(self, session: Session, row: KeyGeneration) -> RSAPrivateKey:
        if row.id not in self._keys:
            try:
                self._keys[row.id] = keyring.private_key(session, row, self.kek)
            except CollectorError as exc:
                raise Failure("unknown-key", exc.message) from None
        return self._keys[row.id]

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

    def run_once(self, limit: int = 16) -> int:
        """Claim and process one batch; return how many were claimed."""
        claims = self.claim(limit)
        for claim in claims:
            self.process(claim)
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
    ) -> None:
        """Work until ``stop`` is set; sleep ``idle`` seconds (or until woken) when idle."""
        log.info("decryption worker started (lease %ss)", self.lease.total_seconds())
        next_sweep = 0.0
        while not stop.is_set():
            count = 0
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + sweep_every
                    self.sweep_incomplete()
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


def _store(
    session: Session,
    submission: Submission,
    result: odk.DecryptedSubmission,
    secrets: vault.Secrets,
) -> None:
    """Store a decrypted submission, blaming the ciphertext when the signature says so."""
    try:
        records.store(session, submission, result, secrets)
    except Failure as failure:
        if failure.reason == "instance-mismatch" and result.signature == SignatureStatus.INVALID:
            # A garbled plaintext whose signature does not match is damaged ciphertext (CFB
            # decrypts a flipped byte into a garbled block), not a device sending another form.
            raise Failure(
                "corrupt-file", f"signature mismatch and {failure.detail or 'no valid instance'}"
            ) from None
        raise


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
