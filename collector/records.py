"""Decrypted instances -> stored records: flatten with the form model, apply the PII policy.

A record is one JSON document: the root row (field path -> text) and, for every repeat, its
rows in document order. Paths are the instance paths the form model uses, so exports and OData
can be built from the model and the record alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from sqlalchemy.orm import Session

from collector.errors import ProcessingFailed
from collector.models import FormVersion, Submission, SubmissionRecord
from forms.model import FormModel, parse_xform
from forms.policy import PIIPolicy
from keys import odk

MAX_INSTANCE_BYTES = 20 * 1024 * 1024


@dataclass
class Flattened:
    """An instance as rows: the root row and each repeat's rows (with their position)."""

    form_id: str
    version: str
    root: dict[str, str] = field(default_factory=dict)
    repeats: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the storable document."""
        return {"root": self.root, "repeats": self.repeats}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=64)
def model_for(xml: bytes, policy_json: str) -> FormModel:
    """Parse (once per definition) the form model with its PII policy attached."""
    policy = PIIPolicy.from_json(policy_json) if policy_json and policy_json != "{}" else None
    return parse_xform(xml, policy)


def flatten(instance_xml: bytes, model: FormModel) -> Flattened:
    """Flatten a decrypted instance with the form model; refuse one of another form."""
    if len(instance_xml) > MAX_INSTANCE_BYTES:
        raise ProcessingFailed("instance-mismatch", "the instance is too large")
    try:
        root = SafeET.fromstring(instance_xml, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ProcessingFailed("instance-mismatch", f"the instance is not XML: {exc}") from None
    form_id = root.get("id") or ""
    if form_id != model.form_id:
        raise ProcessingFailed(
            "instance-mismatch", f"the instance is of form {form_id!r}, not {model.form_id!r}"
        )
    flat = Flattened(form_id=form_id, version=root.get("version") or "")
    repeats = set(model.repeats)
    _walk(root, "/" + _local(root.tag), flat.root, flat, repeats)
    return flat


def _walk(
    node: Element, path: str, row: dict[str, str], flat: Flattened, repeats: set[str]
) -> None:
    for child in node:
        child_path = f"{path}/{_local(child.tag)}"
        if child_path in repeats:
            rows = flat.repeats.setdefault(child_path, [])
            position = len(rows) + 1
            new_row: dict[str, str] = {
                "__position": str(position),
                "__parent": row.get("__key", "root"),
                "__key": f"{row.get('__key', '')}{child_path}[{position}]",
            }
            rows.append(new_row)
            _walk(child, child_path, new_row, flat, repeats)
        elif len(child):
            _walk(child, child_path, row, flat, repeats)
        else:
            row[child_path] = (child.text or "").strip()


def store(session: Session, submission: Submission, result: odk.DecryptedSubmission) -> None:
    """Flatten a decrypted submission and store its record (in the caller's transaction)."""
    version: FormVersion = submission.form_version
    model = model_for(version.xml, version.policy)
    flat = flatten(result.xml, model)
    document = flat.as_json()
    document["media"] = sorted(result.media)
    session.add(
        SubmissionRecord(submission_id=submission.id, data=json.dumps(document, ensure_ascii=False))
    )
    session.flush()
