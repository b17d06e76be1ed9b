"""Decrypted instances -> stored records: flatten with the form model, apply the PII policy.

A record is one JSON document: the root row (field path -> text) and, for every repeat, its
rows in document order with Central-style join keys. Paths are the instance paths of the form
model, so exports and OData are built from the model and the record alone.

Storing takes two steps, so that a batch costs a few statements, not a few per submission:
``prepare`` is CPU work only (flatten, normalise and HMAC identifiers, generalise
quasi-identifiers, seal sensitive values and media); ``write`` links the whole batch's
identifiers to vault subjects with one lookup and inserts its records and media with one
statement each. The worker runs ``prepare_batch`` before its transaction's first write and
``write_batch`` after it; either lets one bad submission fail alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from collector import entitychange, vault
from collector.errors import ProcessingFailed
from collector.models import FormVersion, Submission, SubmissionMedia, SubmissionRecord
from collector.pseudonym import generalise
from forms.errors import FormError
from forms.flatten import FlatInstance, Row
from forms.model import FormModel, parse_xform
from forms.policy import PIIKind, PIIPolicy, PIIRule
from keys import odk, seal

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def model_for(xml: bytes, policy_json: str) -> FormModel:
    """Parse (once per definition) the form model with its PII policy attached."""
    return parse_xform(xml, PIIPolicy.from_json(policy_json))


def flatten(instance_xml: bytes, model: FormModel) -> FlatInstance:
    """Flatten a decrypted instance; refuse one that belongs to another form."""
    try:
        flat = model.flatten(instance_xml)
    except FormError as exc:
        raise ProcessingFailed("instance-mismatch", str(exc)) from None
    if flat.form_id != model.form_id:
        raise ProcessingFailed(
            "instance-mismatch", f"the instance is of form {flat.form_id!r}, not {model.form_id!r}"
        )
    return flat


@dataclass
class _Policy:
    """Applies a form's PII policy to flattened values (CPU only: no database statement).

    Identifiers are normalised and pseudonymised here and linked to subjects later, for a
    whole batch at once (``write``).
    """

    rules: Mapping[str, PIIRule]
    pseudonyms: vault.PseudonymKeys
    data_key: tuple[int, seal.Sealer]
    project_id: int
    dropped: set[str] = field(default_factory=set)
    #: The answers (file names) of dropped questions: their files are not stored either.
    dropped_values: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)
    pending: list[tuple[dict[str, Any], str, vault.Identifier]] = field(default_factory=list)

    def apply(self, values: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = dict(values)
        rules = self.rules
        for path, value in values.items():
            rule = rules.get(path)
            if rule is None:
                continue
            kind = rule.kind
            if kind == PIIKind.DROP:
                del out[path]
                self.dropped.add(path)
                if value:
                    self.dropped_values.add(value)
            elif value == "":
                continue
            elif kind == PIIKind.IDENTIFIER:
                found = self.pseudonyms.identifier(rule.identifier_type, value)
                out[path] = ""
                if found is not None:
                    self.pending.append((out, path, found))
            elif kind == PIIKind.QUASI:
                out[path] = generalised = generalise(value, rule.rule)
                if generalised is None:
                    self.suppressed.add(path)
            else:
                out[path] = vault.encode_sealed(*self.seal(value.encode(), "sensitive"))
        return out

    def seal(self, data: bytes, what: str) -> tuple[int, bytes]:
        version, sealer = self.data_key
        return version, sealer.seal(data, vault.value_aad(self.project_id, what))

    def row(self, row: Row) -> dict[str, Any]:
        return {
            "key": row.key,
            "parent": row.parent_key,
            "position": list(row.position),
            "values": self.apply(row.values),
        }


@dataclass
class Prepared:
    """A decrypted submission with its PII policy applied, ready to be written."""

    submission_id: int
    project_id: int
    document: dict[str, Any]
    pending: list[tuple[dict[str, Any], str, vault.Identifier]] = field(repr=False)
    media: list[dict[str, Any]] = field(repr=False)
    #: The entity change it asks for, applied after it is written.
    entity: entitychange.Change | None = field(default=None, repr=False)


@dataclass
class _Keys:
    """A project's keys as one batch uses them (looked up once per batch, not per row)."""

    pseudonyms: vault.PseudonymKeys
    data_key: tuple[int, seal.Sealer]

    @classmethod
    def of(cls, session: Session, secrets: vault.Secrets, project_id: int) -> _Keys:
        version, key = secrets.data_key(session, project_id)
        return cls(
            vault.pseudonym_keys(session, secrets, project_id), (version, secrets.sealer(key))
        )


def prepare(
    session: Session,
    submission: Submission,
    result: odk.DecryptedSubmission,
    secrets: vault.Secrets,
    keys: _Keys | None = None,
) -> Prepared:
    """Flatten, pseudonymise, generalise and seal a decrypted submission (no writes).

    The session is only read for the project's keys, which ``secrets`` caches.
    """
    version: FormVersion = submission.form_version
    model = model_for(version.xml, version.policy)
    flat = flatten(result.xml, model)
    if flat.instance_id and flat.instance_id != submission.instance_id:
        raise ProcessingFailed(
            "instance-mismatch", "the decrypted instanceID differs from the envelope's"
        )
    project_id = submission.project_id
    keys = keys or _Keys.of(session, secrets, project_id)
    policy = _Policy(model.pii_rules, keys.pseudonyms, keys.data_key, project_id)
    document: dict[str, Any] = {
        "instanceId": flat.instance_id,
        "version": flat.version,
        "root": policy.apply(flat.root.values),
        "repeats": {p: [policy.row(r) for r in rows] for p, rows in flat.repeats.items()},
    }
    media: list[dict[str, Any]] = []
    for name, data in result.media.items():
        if name in policy.dropped_values:
            continue
        key_version, sealed = policy.seal(data, "media")
        media.append(
            {
                "submission_id": submission.id,
                "name": name,
                "size": len(data),
                "sealed": sealed,
                "key_version": key_version,
            }
        )
    document |= {
        "media": sorted(m["name"] for m in media),
        "dropped": sorted(policy.dropped),
        "suppressed": sorted(policy.suppressed),
        "unknownFields": len(flat.unknown),
    }
    change = entitychange.change_for(submission, model, flat.entity, document["root"])
    if change is not None:
        document["entity"] = change.action.to_dict()
    return Prepared(submission.id, project_id, document, policy.pending, media, change)


def write(session: Session, kek: bytes, batch: Sequence[Prepared]) -> None:
    """Link the batch's identifiers to subjects (one lookup per project), then insert every
    record and media file with one statement each (caller's transaction)."""
    projects: dict[int, list[Prepared]] = {}
    for item in batch:
        projects.setdefault(item.project_id, []).append(item)
    for project_id, items in projects.items():
        pending = [p for item in items for p in item.pending]
        ids = vault.link(session, kek, project_id, [identifier for _o, _p, identifier in pending])
        for (out, path, _identifier), subject_id in zip(pending, ids, strict=True):
            out[path] = {"subject": subject_id}
    records, media = [], []
    for item in batch:
        subjects: set[int] = {out[path]["subject"] for out, path, _i in item.pending}
        item.document["subjects"] = sorted(subjects)
        records.append(
            {
                "submission_id": item.submission_id,
                "data": json.dumps(item.document, ensure_ascii=False),
            }
        )
        media += item.media
    connection = session.connection()
    if records:
        connection.execute(_NEW_RECORDS, records)
    if media:
        connection.execute(_NEW_MEDIA, media)


# Built once, run on the session's connection (Core, not the ORM's bulk machinery).
_NEW_RECORDS = insert(SubmissionRecord)
_NEW_MEDIA = insert(SubmissionMedia)


def prepare_batch(
    session: Session,
    items: Sequence[tuple[Submission, odk.DecryptedSubmission]],
    secrets: vault.Secrets,
) -> tuple[list[Prepared], dict[int, ProcessingFailed]]:
    """Prepare decrypted submissions (CPU only); return those ready and each one's failure.

    The worker runs this before its transaction's first write, so that a database that takes
    one writer at a time (SQLite) is held only for the short bulk write that follows.
    """
    failures: dict[int, ProcessingFailed] = {}
    ready: list[Prepared] = []
    keys: dict[int, _Keys] = {}
    for submission, result in items:
        try:
            project_id = submission.project_id
            if project_id not in keys:
                keys[project_id] = _Keys.of(session, secrets, project_id)
            ready.append(prepare(session, submission, result, secrets, keys[project_id]))
        except ProcessingFailed as failure:
            failures[submission.id] = failure
        except Exception:
            log.exception("submission %s: unexpected error while preparing", submission.id)
            failures[submission.id] = ProcessingFailed("internal-error", "see the server log")
    return ready, failures


def write_batch(
    session: Session, kek: bytes, ready: Sequence[Prepared]
) -> dict[int, ProcessingFailed]:
    """Write prepared submissions together; return the failure of each one that failed.

    The batch is written under one savepoint. Should that fail, each is written again under
    its own savepoint, so that one bad submission does not fail the others. Database errors
    (``OperationalError``) are the caller's: the batch is then for another try. On SQLite the
    caller's transaction must have written already (its driver opens a transaction only at
    the first write, and a savepoint opened before would commit on its own).
    """
    failures: dict[int, ProcessingFailed] = {}
    if not ready:
        return failures
    try:
        with session.begin_nested():
            write(session, kek, ready)
        return failures
    except OperationalError:
        raise
    except Exception:
        log.exception("a batch of %d records did not write; writing one by one", len(ready))
    for item in ready:
        try:
            with session.begin_nested():
                write(session, kek, [item])
        except OperationalError:
            raise
        except Exception:
            log.exception("submission %s: unexpected storage error", item.submission_id)
            failures[item.submission_id] = ProcessingFailed("internal-error", "see the server log")
    return failures
