"""Entities from submissions: the create or update a processed submission asks for.

A form with an ``entities`` sheet names a list, and each submission carries the entity's uuid,
whether to create or update it, the version an update was based on, and a label. The values
saved to the entity's properties come from the pseudonymised record, never from the decrypted
instance: the publish check (``forms.entity.check_entity_policy``) lets a form save only fields
its record holds in the clear, and a quasi-identifier arrives generalised by its rule.

The worker applies the change in the transaction that stores the record; when the list requires
approval, the change waits until the submission is approved (``on_approval``). A change that
cannot be applied (no such entity, a stale ``baseVersion``, a uuid already taken, no label)
leaves the submission processed and its data intact, and records an ``entity.error`` audit
entry with the problem's code: a data manager sees it there and can apply the change by hand.
A form's edited submission (a new version of one already processed) updates its entity when it
asks to update; a create it repeats is not applied again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector import audit, entities, vault
from collector.errors import CollectorError, NotFound
from collector.models import Dataset, Entity, Submission
from forms.entity import EntityAction, read_action
from forms.model import FormModel
from forms.policy import PIIKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One submission's entity change, with the label and properties its record holds."""

    project_id: int
    submission_id: int
    #: The logical submission (the first version), which holds the review state.
    root_id: int
    instance_id: str
    action: EntityAction
    label: str
    data: Mapping[str, str]
    #: The web user who sent the submission over the REST API (app users are not users).
    creator_id: int | None
    user_agent: str | None
    edit: bool


def values(model: FormModel, root: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """Read the label and the saved properties from a record's (pseudonymised) root values.

    Only fields the record holds in the clear are read: an identifier, sensitive or dropped
    field cannot be saved (the form would not have been published), and is skipped here too.
    """
    declaration = model.entity
    if declaration is None:
        return "", {}
    label = root.get(declaration.label, "") if declaration.label else ""
    data: dict[str, str] = {}
    for path, name in declaration.saveto.items():
        rule = model.pii_rules.get(path)
        if rule is not None and rule.kind is not PIIKind.QUASI:
            continue
        if path in root:
            value = root[path]
            data[name] = value if isinstance(value, str) else ""
    return (label if isinstance(label, str) else ""), data


def change_for(
    submission: Submission,
    model: FormModel,
    attributes: Mapping[str, str] | None,
    root: Mapping[str, Any],
) -> Change | None:
    """The change a submission asks for, from its entity attributes and its record's values."""
    if model.entity is None:
        return None
    action = read_action(model.entity, attributes)
    if action is None:
        return None
    label, data = values(model, root)
    return Change(
        project_id=submission.project_id,
        submission_id=submission.id,
        root_id=submission.root_id or submission.id,
        instance_id=submission.instance_id,
        action=action,
        label=label,
        data=data,
        creator_id=submission.creator_user_id,
        user_agent=submission.user_agent,
        edit=submission.root_id is not None,
    )


def _problem(session: Session, change: Change, code: float, reason: str) -> None:
    # The code and a fixed reason only: messages can quote submitted values.
    audit.record(
        session,
        audit.SYSTEM,
        "entity.error",
        project_id=change.project_id,
        subject=change.instance_id,
        list=change.action.dataset,
        entity=change.action.uuid,
        code=code,
        reason=reason,
    )


def _dataset(session: Session, change: Change) -> Dataset | None:
    return session.scalars(
        select(Dataset).where(
            Dataset.project_id == change.project_id, Dataset.name == change.action.dataset
        )
    ).one_or_none()


def _approved(session: Session, change: Change) -> bool:
    # Approved before it was processed: the approval found no record, so it applies now.
    root = session.get(Submission, change.root_id)
    return root is not None and root.review_state == "approved"


def apply(
    session: Session, secrets: vault.Secrets, change: Change, *, on_approval: bool = False
) -> Entity | None:
    """Create or update the submission's entity in the caller's transaction.

    Returns the entity, or None when the change waits for approval, repeats a create of an
    edited submission, or cannot be applied (then audited as ``entity.error``).
    """
    action = change.action
    dataset = _dataset(session, change)
    if dataset is None:
        _problem(session, change, 404.7, "the entity list does not exist")
        return None
    if dataset.approval_required and not on_approval and not _approved(session, change):
        return None
    source = {"submission": change.instance_id}
    try:
        with session.begin_nested():
            existing = entities.find_entity(session, dataset, action.uuid)
            if action.update and existing is not None and existing.deleted_at is None:
                change_to = entities.Update(
                    label=change.label or None,
                    data=change.data,
                    base_version=action.base_version,
                )
                return entities.update_entity(
                    session,
                    secrets,
                    dataset,
                    existing,
                    change_to,
                    actor=audit.SYSTEM,
                    source=source,
                )
            # An edit, or a second approval, does not create its entity again.
            repeated = existing is not None and (change.edit or on_approval)
            if action.create and not repeated:
                (created,) = entities.create_entities(
                    session,
                    secrets,
                    dataset,
                    [entities.NewEntity(change.label, change.data, action.uuid or "")],
                    actor=audit.SYSTEM,
                    user_agent=change.user_agent,
                    creator_id=change.creator_id,
                    source=source,
                )
                return created
            if action.create:
                return None
            raise NotFound(f"entity {action.uuid} does not exist", code=404.8)
    except CollectorError as problem:
        _problem(session, change, problem.code, type(problem).__name__)
    except IntegrityError:
        # Another writer took the uuid between the lookup and the insert.
        _problem(session, change, 409.3, "Conflict")
    return None


def stored_change(
    submission: Submission, model: FormModel, document: Mapping[str, Any]
) -> Change | None:
    """The change a stored record asks for (its ``entity`` entry and its values)."""
    stored = document.get("entity")
    if not stored or model.entity is None:
        return None
    attributes = {
        "id": str(stored["id"]),
        "create": "1" if stored["create"] else "",
        "update": "1" if stored["update"] else "",
        "baseVersion": "" if stored["baseVersion"] is None else str(stored["baseVersion"]),
    }
    return change_for(submission, model, attributes, document["root"])


def on_approval(session: Session, secrets: vault.Secrets, change: Change) -> Entity | None:
    """Apply the entity change of an approved submission (its current version's) to a list that
    requires approval; nothing for other lists, whose changes applied when it was processed."""
    dataset = _dataset(session, change)
    if dataset is None or not dataset.approval_required:
        return None
    return apply(session, secrets, change, on_approval=True)
