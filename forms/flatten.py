"""Flatten one submission into a root row and the rows of each repeat, as exports need them.

The shape follows ODK Central's CSV exports: one table for the root and one per repeat, joined
by keys. The root row's key is the instanceID; a repeat entry's key is its parent's key, the
path from the parent down to the repeat, and the 1-based position: ``uuid:…/household[2]``.
Values are the answers' text as submitted (a multiple select stays space-separated).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from forms.errors import ErrorCode, FormError
from forms.xmlsafe import MAX_INSTANCE_BYTES, attribute, local, parse_xml

if TYPE_CHECKING:
    from forms.model import FormModel


@dataclass(frozen=True)
class Row:
    """One row of an export table: the root, or one entry of a repeat."""

    key: str
    parent_key: str | None
    #: Path of the repeat this row is an entry of; None for the root row.
    repeat: str | None
    #: 1-based position of this entry within each enclosing repeat, outermost first.
    position: tuple[int, ...]
    #: Field path -> submitted text, for the fields whose innermost repeat is this row's.
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FlatInstance:
    """A submission flattened against its form's model."""

    form_id: str
    version: str
    instance_id: str
    root: Row
    #: Every repeat of the form (even with no entries) -> its rows in document order.
    repeats: Mapping[str, tuple[Row, ...]]
    #: Leaf paths present in the submission but not in the form (kept out of the rows).
    unknown: tuple[str, ...] = ()
    #: The attributes of the entity element (by local name), when the form declares one and
    #: the submission has it.
    entity: Mapping[str, str] | None = None

    def rows(self, repeat: str | None = None) -> tuple[Row, ...]:
        """Return the rows of the root table (None) or of one repeat."""
        return (self.root,) if repeat is None else self.repeats.get(repeat, ())


@dataclass(frozen=True)
class _Scope:
    key: str
    repeat: str | None
    position: tuple[int, ...]


@dataclass
class _Builder:
    model: FormModel
    repeats: dict[str, list[Row]]
    unknown: list[str]

    def visit(self, element: ET.Element, path: str, scope: _Scope, values: dict[str, str]) -> None:
        # The hot loop of every stored submission: paths built here carry no positions, so
        # they are looked up as they are.
        counts: dict[str, int] = {}
        repeats, fields = self.model.repeat_paths, self.model.leaf_paths
        for sub in element:
            if sub.attrib and attribute(sub, "template") is not None:
                continue
            sub_path = f"{path}/{local(sub.tag)}"
            if sub_path in repeats:
                counts[sub_path] = counts.get(sub_path, 0) + 1
                self._entry(sub, sub_path, scope, counts[sub_path])
            elif len(sub):
                self.visit(sub, sub_path, scope, values)
            elif sub_path in fields:
                values[sub_path] = sub.text or ""
            else:
                self.unknown.append(sub_path)

    def _entry(self, element: ET.Element, path: str, parent: _Scope, position: int) -> None:
        below = path[len(parent.repeat or self.model.root) + 1 :]
        scope = _Scope(f"{parent.key}/{below}[{position}]", path, (*parent.position, position))
        values: dict[str, str] = {}
        self.visit(element, path, scope, values)
        row = Row(scope.key, parent.key, path, scope.position, MappingProxyType(values))
        self.repeats[path].append(row)


def flatten_instance(model: FormModel, instance_xml: bytes) -> FlatInstance:
    """Flatten a decrypted submission's XML into its root row and repeat rows."""
    document = parse_xml(instance_xml, what="submission", limit=MAX_INSTANCE_BYTES)
    expected = model.root.lstrip("/")
    if local(document.tag) != expected:
        raise FormError(ErrorCode.XML_007, found=local(document.tag), expected=expected)
    instance_id = _instance_id(document)
    builder = _Builder(model, {r: [] for r in model.repeats}, [])
    values: dict[str, str] = {}
    builder.visit(document, model.root, _Scope(instance_id, None, ()), values)
    return FlatInstance(
        form_id=document.get("id", ""),
        version=document.get("version", ""),
        instance_id=instance_id,
        root=Row(instance_id, None, None, (), MappingProxyType(values)),
        repeats=MappingProxyType({p: tuple(rows) for p, rows in builder.repeats.items()}),
        unknown=tuple(builder.unknown),
        entity=_entity_attributes(document) if model.entity is not None else None,
    )


def _entity_attributes(document: ET.Element) -> Mapping[str, str] | None:
    for meta in document:
        if local(meta.tag) == "meta":
            for item in meta:
                if local(item.tag) == "entity":
                    return MappingProxyType({local(k): v for k, v in item.attrib.items()})
    return None


def _instance_id(document: ET.Element) -> str:
    for meta in document:
        if local(meta.tag) == "meta":
            for item in meta:
                if local(item.tag) == "instanceID":
                    return (item.text or "").strip()
    return document.get("instanceID", "")
