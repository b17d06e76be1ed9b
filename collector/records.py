"""Decrypted instances -> stored records: flatten with the form model, apply the PII policy.

A record is one JSON document: the root row (field path -> text) and, for every repeat, its
rows in document order with Central-style join keys. Paths are the instance paths of the form
model, so exports and OData are built from the model and the record alone.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from collector.errors import ProcessingFailed
from collector.models import FormVersion, Submission, SubmissionRecord
from forms.errors import FormError
from forms.flatten import FlatInstance, Row
from forms.model import FormModel, parse_xform
from forms.policy import PIIPolicy
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


def _row(row: Row) -> dict[str, Any]:
    return {
        "key": row.key,
        "parent": row.parent_key,
        "position": list(row.position),
        "values": dict(row.values),
    }


def document_of(flat: FlatInstance, media: list[str]) -> dict[str, Any]:
    """Return the storable JSON document of a flattened instance."""
    return {
        "instanceId": flat.instance_id,
        "version": flat.version,
        "root": dict(flat.root.values),
        "repeats": {path: [_row(r) for r in rows] for path, rows in flat.repeats.items()},
        "unknown": list(flat.unknown),
        "media": media,
    }


def store(session: Session, submission: Submission, result: odk.DecryptedSubmission) -> None:
    """Flatten a decrypted submission and store its record (in the caller's transaction)."""
    version: FormVersion = submission.form_version
    model = model_for(version.xml, version.policy)
    flat = flatten(result.xml, model)
    if flat.instance_id and flat.instance_id != submission.instance_id:
        raise ProcessingFailed(
            "instance-mismatch", "the decrypted instanceID differs from the envelope's"
        )
    document = document_of(flat, sorted(result.media))
    session.add(
        SubmissionRecord(submission_id=submission.id, data=json.dumps(document, ensure_ascii=False))
    )
    session.flush()
