"""A form's entity declaration (the XLSForm ``entities`` sheet), and what keeps PII out of it.

pyxform writes the sheet into the XForm as ``meta/entity`` with the list's name in ``dataset``,
the entity's uuid in ``id``, ``create`` and/or ``update`` (a constant or, from ``create_if`` and
``update_if``, a calculated attribute), ``baseVersion`` for an update, a ``label`` child, and an
``entities:saveto`` attribute on each bind whose answer becomes a property.

Entities are served to every device that uses their list and to data managers, outside the
pseudonymised record. So a form may save to an entity only what its record would hold in the
clear: ``check_entity_policy`` refuses a ``save_to`` on an identifier, sensitive or dropped field
(or on one computed from them), a label that uses any field with a ``pii`` value, directly or
through calculations, and properties inside repeats. A quasi-identifier is saved as the record
stores it: generalised by its rule.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from forms.errors import ErrorCode, FormError
from forms.policy import PIIKind, PIIPolicy
from forms.xmlsafe import attribute, children, local

if TYPE_CHECKING:
    from forms.model import FormModel

#: The entities spec versions whose create and update this toolkit reads.
SPEC_VERSIONS = ("2022.1", "2023.1", "2024.1", "2025.1")
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,199}")
_RESERVED = frozenset({"name", "label"})
_XPATH_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class EntityDeclaration:
    """What a form says about the entity each submission creates or updates."""

    #: Instance path of the entity element (``/data/meta/entity``).
    path: str
    dataset: str
    spec_version: str
    #: Path of the label field, when the form sets one.
    label: str | None
    #: Field path -> the property its answer is saved to, in document order.
    saveto: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "saveto", MappingProxyType(dict(self.saveto)))


def read_declaration(model: ET.Element, root: ET.Element) -> EntityDeclaration | None:
    """Read ``meta/entity`` and the ``saveto`` binds; None for a form without entities."""
    base = "/" + local(root.tag)
    meta = next((m for m in root if local(m.tag) == "meta"), None)
    element = (
        next((e for e in meta if local(e.tag) == "entity"), None) if meta is not None else None
    )
    saveto = {
        bind.get("nodeset", ""): value
        for bind in children(model, "bind")
        if (value := attribute(bind, "saveto")) is not None
    }
    if element is None:
        if saveto:
            raise FormError(
                ErrorCode.ENT_001, detail="it saves to properties but has no meta/entity"
            )
        return None
    declared = attribute(model, "entities-version") or ""
    if not declared.startswith(SPEC_VERSIONS):
        raise FormError(
            ErrorCode.ENT_001,
            detail=f"entities-version {declared or 'missing'!r} is not one of "
            + ", ".join(f"{v}.x" for v in SPEC_VERSIONS),
        )
    dataset = (element.get("dataset") or "").strip()
    if not _PROPERTY.fullmatch(dataset) or dataset.startswith("__"):
        raise FormError(ErrorCode.ENT_001, detail=f"the entity list name {dataset!r} is not valid")
    for path, name in saveto.items():
        if not _PROPERTY.fullmatch(name) or name.startswith("__") or name.lower() in _RESERVED:
            raise FormError(ErrorCode.ENT_002, path=path, property=name)
    label = next((e for e in element if local(e.tag) == "label"), None)
    path = f"{base}/meta/entity"
    return EntityDeclaration(
        path=path,
        dataset=dataset,
        spec_version=declared,
        label=f"{path}/label" if label is not None else None,
        saveto=saveto,
    )


def check_entity_policy(
    model: FormModel, policy: PIIPolicy, calculates: Mapping[str, str]
) -> list[FormError]:
    """Return why the form's entity would carry protected data (empty when it would not).

    ``policy`` is the form's policy after protection was derived for calculations, and
    ``calculates`` maps each computed field to its expressions (``build.value_expressions``).
    """
    declaration = model.entity
    if declaration is None:
        return []
    problems = []
    for path, name in declaration.saveto.items():
        if not model.has_field(path):
            problems.append(FormError(ErrorCode.ENT_003, path=path, property=name))
            continue
        if model.field(path).repeat is not None:
            problems.append(FormError(ErrorCode.ENT_004, path=path, property=name))
        rule = policy.rule_for(path)
        if rule is not None and rule.kind is not PIIKind.QUASI:
            problems.append(
                FormError(ErrorCode.ENT_005, path=path, property=name, kind=rule.kind.value)
            )
    if declaration.label is not None:
        for source in sorted(_sources(declaration.label, policy, calculates)):
            problems.append(FormError(ErrorCode.ENT_006, source=source))
    return problems


def _sources(path: str, policy: PIIPolicy, calculates: Mapping[str, str]) -> set[str]:
    """The fields with a ``pii`` value that the value at ``path`` is computed from, through any
    chain of calculations. Fields are matched by name, which errs towards refusing."""
    by_name: dict[str, list[str]] = {}
    for known in (*calculates, *policy.fields):
        by_name.setdefault(known.rsplit("/", 1)[-1], []).append(known)
    found: set[str] = set()
    seen = {path}
    todo = [path]
    while todo:
        for name in _XPATH_NAME.findall(calculates.get(todo.pop(), "")):
            for other in by_name.get(name, ()):
                if other in policy.fields:
                    found.add(other)
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
    return found


@dataclass(frozen=True)
class EntityAction:
    """What one submission asks of its entity list (from the entity element's attributes)."""

    dataset: str
    uuid: str
    create: bool
    update: bool
    base_version: int | None

    def to_dict(self) -> dict[str, object]:
        """Return the action as plain JSON values (kept in the stored record)."""
        return {
            "dataset": self.dataset,
            "id": self.uuid,
            "create": self.create,
            "update": self.update,
            "baseVersion": self.base_version,
        }


def _uuid_or_blank(value: str | None) -> str:
    # The id is computed by the form (``entity_id``, even from a question): anything but a
    # UUID is dropped here, so that no answer rides into the record or the audit log with it.
    text = (value or "").strip().removeprefix("uuid:")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return ""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def read_action(
    declaration: EntityDeclaration, attributes: Mapping[str, str] | None
) -> EntityAction | None:
    """Read a submission's entity attributes; None when it asks for nothing.

    The list is the form's (as published), whatever the submission's ``dataset`` says.
    """
    if attributes is None:
        return None
    create, update = _truthy(attributes.get("create")), _truthy(attributes.get("update"))
    if not (create or update):
        return None
    base = (attributes.get("baseVersion") or "").strip()
    return EntityAction(
        dataset=declaration.dataset,
        uuid=_uuid_or_blank(attributes.get("id")),
        create=create,
        update=update,
        base_version=int(base) if base.isdigit() else None,
    )
