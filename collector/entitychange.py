"""The entity change a processed submission asks for, read from its pseudonymised record.

A form with an ``entities`` sheet names a list, and each submission carries the entity's uuid,
whether to create or update it, the version an update was based on, and a label. The values
saved to the entity's properties come from the pseudonymised record, never from the decrypted
instance: the publish check (``forms.entity.check_entity_policy``) lets a form save only fields
its record holds in the clear, and a quasi-identifier arrives generalised by its rule.
Reading a change is CPU work only; ``entityflow`` applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collector.models import Submission
from forms.entity import EntityAction, read_action
from forms.model import FormModel
from forms.policy import PIIKind


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
    """The change a submission asks for, from its entity attributes and its record's values.

    A submission that tests a draft changes no entity (as in Central).
    """
    if model.entity is None:
        return None
    return _change(submission, model, read_action(model.entity, attributes), root)


def _change(
    submission: Submission, model: FormModel, action: EntityAction | None, root: Mapping[str, Any]
) -> Change | None:
    if action is None or submission.form_version.published_at is None:
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


def stored_change(
    submission: Submission, model: FormModel, document: Mapping[str, Any]
) -> Change | None:
    """The change a stored record asks for (its ``entity`` entry and its values)."""
    stored = document.get("entity")
    if not stored or model.entity is None:
        return None
    action = EntityAction(
        dataset=model.entity.dataset,
        uuid=str(stored["id"]),
        create=bool(stored["create"]),
        update=bool(stored["update"]),
        base_version=stored["baseVersion"],
    )
    return _change(submission, model, action, document["root"])
