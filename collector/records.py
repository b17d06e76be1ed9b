"""Decrypted instances -> stored records: flatten with the form model, apply the PII policy.

A record is one JSON document: the root row (field path -> text) and, for every repeat, its
rows in document order with Central-style join keys. Paths are the instance paths of the form
model, so exports and OData are built from the model and the record alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from collector import vault
from collector.errors import ProcessingFailed
from collector.models import FormVersion, Submission, SubmissionMedia, SubmissionRecord
from collector.pseudonym import generalise
from forms.errors import FormError
from forms.flatten import FlatInstance, Row
from forms.model import FormModel, parse_xform
from forms.policy import PIIKind, PIIPolicy
from keys import odk


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
    """Applies a form's PII policy to flattened values.

    Identifiers are collected while the rows are built and resolved to subjects in one batch
    (``finish``), so a submission costs one vault lookup whatever its number of identifiers.
    """

    session: Session
    secrets: vault.Secrets
    project_id: int
    model: FormModel
    dropped: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)
    _pending: list[tuple[dict[str, Any], str, str | None, str]] = field(default_factory=list)
    subjects: list[int] = field(default_factory=list)

    def apply(self, values: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path, value in values.items():
            rule = self.model.field(path).pii
            if rule is None:
                out[path] = value
            elif rule.kind == PIIKind.DROP:
                self.dropped.add(path)
            elif value == "":
                out[path] = ""
            elif rule.kind == PIIKind.IDENTIFIER:
                out[path] = ""
                self._pending.append((out, path, rule.identifier_type, value))
            elif rule.kind == PIIKind.QUASI:
                out[path] = generalise(value, rule.rule)
                if out[path] is None:
                    self.suppressed.add(path)
            else:
                version, sealed = vault.seal_value(
                    self.secrets, self.session, self.project_id, value.encode(), "sensitive"
                )
                out[path] = vault.encode_sealed(version, sealed)
        return out

    def finish(self) -> None:
        """Resolve every collected identifier to its subject in one batch."""
        items = [(kind, value) for _out, _path, kind, value in self._pending]
        ids = vault.resolve(self.session, self.secrets, self.project_id, items)
        for (out, path, _kind, _value), subject_id in zip(self._pending, ids, strict=True):
            out[path] = {"subject": subject_id} if subject_id is not None else ""
        self.subjects = sorted({i for i in ids if i is not None})

    def row(self, row: Row) -> dict[str, Any]:
        return {
            "key": row.key,
            "parent": row.parent_key,
            "position": list(row.position),
            "values": self.apply(row.values),
        }

    def dropped_media(self, flat: FlatInstance) -> set[str]:
        names = set()
        for row in (flat.root, *(r for rows in flat.repeats.values() for r in rows)):
            for path, value in row.values.items():
                rule = self.model.field(path).pii
                if rule is not None and rule.kind == PIIKind.DROP and value:
                    names.add(value)
        return names


def store(
    session: Session,
    submission: Submission,
    result: odk.DecryptedSubmission,
    secrets: vault.Secrets,
) -> None:
    """Apply the PII policy and store the record and sealed media (caller's transaction)."""
    version: FormVersion = submission.form_version
    model = model_for(version.xml, version.policy)
    flat = flatten(result.xml, model)
    if flat.instance_id and flat.instance_id != submission.instance_id:
        raise ProcessingFailed(
            "instance-mismatch", "the decrypted instanceID differs from the envelope's"
        )
    policy = _Policy(session, secrets, submission.project_id, model)
    document: dict[str, Any] = {
        "instanceId": flat.instance_id,
        "version": flat.version,
        "root": policy.apply(flat.root.values),
        "repeats": {p: [policy.row(r) for r in rows] for p, rows in flat.repeats.items()},
    }
    policy.finish()
    dropped_media = policy.dropped_media(flat)
    kept = []
    for name, data in result.media.items():
        if name in dropped_media:
            continue
        key_version, sealed = vault.seal_value(
            secrets, session, submission.project_id, data, "media"
        )
        session.add(
            SubmissionMedia(
                submission_id=submission.id,
                name=name,
                size=len(data),
                sealed=sealed,
                key_version=key_version,
            )
        )
        kept.append(name)
    document |= {
        "media": sorted(kept),
        "dropped": sorted(policy.dropped),
        "suppressed": sorted(policy.suppressed),
        "subjects": policy.subjects,
        "unknownFields": len(flat.unknown),
    }
    session.add(
        SubmissionRecord(submission_id=submission.id, data=json.dumps(document, ensure_ascii=False))
    )
    session.flush()
