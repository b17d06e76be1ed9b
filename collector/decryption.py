"""Decrypting one claimed submission: its batch's rows, the project's keys, failure reasons.

The worker (``collector.worker``) claims and marks; this module turns a claimed submission into
a decrypted result or a failure with a stable reason code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from collector import keyring, submissions, vault
from collector.db import among
from collector.errors import CollectorError
from collector.errors import ProcessingFailed as Failure
from collector.models import KeyGeneration, Submission, SubmissionPart, SubmissionState
from keys import odk
from keys.errors import DecryptionFailed, KeysError, ManifestError, MissingFile
from keys.odk import SignatureStatus

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
INTERNAL = "see the server log"


@dataclass(frozen=True)
class Claim:
    """A submission this worker holds until ``until`` (the lease doubles as the claim's token)."""

    submission_id: int
    until: datetime


@dataclass
class Opener:
    """Opens submissions with the project's private keys, unsealed once and cached."""

    kek: bytes = field(repr=False)
    secrets: vault.Secrets = field(repr=False)
    _keys: dict[int, RSAPrivateKey] = field(default_factory=dict, repr=False)

    def decrypt(self, batch: Batch, submission: Submission) -> odk.DecryptedSubmission:
        if submission.envelope == submissions.SEALED:
            # Plaintext that arrived over the REST API, sealed under the project's data key.
            return submissions.open_sealed(batch.session, self.secrets, submission)
        try:
            envelope = odk.parse_manifest(submission.manifest)
        except ManifestError as exc:
            raise Failure("bad-manifest", str(exc)) from None
        parts = batch.parts.get(submission.id, {})
        for key in self._candidate_keys(batch, submission):
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

    def _candidate_keys(self, batch: Batch, submission: Submission) -> list[RSAPrivateKey]:
        """The form version's own generation first, then every other usable one."""
        rows = batch.generations(submission.project_id)
        own = submission.form_version.key_generation_id
        rows.sort(key=lambda r: (r.id != own, -r.generation))
        return [self._key(batch.session, r) for r in rows if r.sealed_private_key is not None]

    def _key(self, session: Session, row: KeyGeneration) -> RSAPrivateKey:
        if row.id not in self._keys:
            try:
                self._keys[row.id] = keyring.private_key(session, row, self.kek)
            except CollectorError as exc:
                raise Failure("unknown-key", exc.message) from None
        return self._keys[row.id]


@dataclass
class Outcome:
    """What decrypting one claimed submission gave: a result or a failure."""

    claim: Claim
    submission: Submission
    result: odk.DecryptedSubmission | None = None
    failure: Failure | None = None


class Batch:
    """A batch's submissions (received ones), their parts and keyrings, loaded in few queries."""

    def __init__(self, session: Session, ids: list[int]):
        self.session = session
        dialect = session.get_bind().dialect.name
        rows = session.scalars(
            select(Submission)
            .where(among(Submission.id, ids, dialect))
            .options(selectinload(Submission.form_version))
            .order_by(Submission.id)
        ).all()
        received = SubmissionState.RECEIVED.value
        self.subs = {s.id: s for s in rows if s.state == received}
        self.not_received = {s.id: s.state for s in rows if s.state != received}
        self.parts: dict[int, dict[str, bytes]] = {}
        stmt = select(SubmissionPart).where(among(SubmissionPart.submission_id, self.subs, dialect))
        for part in session.scalars(stmt) if self.subs else ():
            self.parts.setdefault(part.submission_id, {})[part.name] = part.data
        self._generations: dict[int, list[KeyGeneration]] = {}

    def generations(self, project_id: int) -> list[KeyGeneration]:
        if project_id not in self._generations:
            self._generations[project_id] = keyring.generations(self.session, project_id)
        return list(self._generations[project_id])


def blame(failure: Failure, result: odk.DecryptedSubmission) -> Failure:
    """Blame the ciphertext for an instance that does not parse when the signature says so."""
    if failure.reason == "instance-mismatch" and result.signature == SignatureStatus.INVALID:
        # A garbled plaintext whose signature does not match is damaged ciphertext (CFB
        # decrypts a flipped byte into a garbled block), not a device sending another form.
        return Failure(
            "corrupt-file", f"signature mismatch and {failure.detail or 'no valid instance'}"
        )
    return failure
