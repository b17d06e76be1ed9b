"""The XForm model: fields, types, groups, repeats, choices and labels, with the PII policy.

The collector flattens submissions and builds exports and OData from it. Paths are those of the
primary instance (``/root/group/field``); a field inside a repeat has one path for all entries.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from forms.entity import EntityDeclaration, read_declaration
from forms.errors import ErrorCode, FormError
from forms.flatten import FlatInstance, Row, flatten_instance
from forms.policy import PIIPolicy, PIIRule
from forms.xmlsafe import MAX_XFORM_BYTES, attribute, child, children, local, parse_xml

__all__ = [
    "Choice",
    "Field",
    "FlatInstance",
    "FormModel",
    "Row",
    "flatten_instance",
    "merge_models",
    "parse_xform",
]

DEFAULT_LANGUAGE = "default"
_ITEXT_REF = re.compile(r"""jr:itext\(\s*['"]([^'"]+)['"]\s*\)""")
_ITEMSET = re.compile(r"""^\s*instance\(\s*['"]([^'"]+)['"]\s*\)(/[^\[]*)(?:\[(.*)\])?\s*$""", re.S)
_CONTROLS = {"input", "select1", "select", "upload", "range", "trigger", "rank"}
_CONTROL_TYPES = {"select1": "select1", "select": "select", "rank": "odk:rank", "upload": "binary"}
_POSITION = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Choice:
    """One choice of a select: its stored value and its label per language."""

    value: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    """One leaf of the primary instance: a question, a calculate or a metadata value."""

    path: str
    name: str
    #: XForm bind type (string, int, decimal, date, dateTime, time, geopoint, ...), or the
    #: control kind where it says more: select1, select (multiple), odk:rank, binary.
    type: str
    #: Path of the enclosing group or repeat; None directly under the root.
    group: str | None
    #: Path of the innermost enclosing repeat; None outside repeats.
    repeat: str | None
    choices: tuple[Choice, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    #: Body control (input, select1, select, upload, range, trigger, rank); None when hidden.
    control: str | None = None
    required: str | None = None
    relevant: str | None = None
    constraint: str | None = None
    calculate: str | None = None
    readonly: bool = False
    #: The secondary instance the choices come from, and the filter applied to them.
    list_name: str | None = None
    choice_filter: str | None = None
    pii: PIIRule | None = None

    @property
    def is_note(self) -> bool:
        """Tell whether this is a note (a read-only input with no value of its own)."""
        return self.control == "input" and self.readonly and self.calculate is None


@dataclass
class FormModel:
    """A parsed XForm with its policy attached."""

    form_id: str
    version: str
    title: str
    root: str
    languages: tuple[str, ...]
    fields: tuple[Field, ...]
    repeats: tuple[str, ...]
    groups: tuple[str, ...] = ()
    default_language: str | None = None
    policy: PIIPolicy = field(default_factory=PIIPolicy)
    #: The entity each submission creates or updates (the entities sheet); None without one.
    entity: EntityDeclaration | None = None
    _by_path: dict[str, Field] = field(default_factory=dict, repr=False)
    #: The repeat paths and the field paths as sets, for lookups of paths without positions.
    repeat_paths: frozenset[str] = field(default=frozenset(), repr=False)
    leaf_paths: frozenset[str] = field(default=frozenset(), repr=False)
    #: The fields that carry a PII rule: path -> rule.
    pii_rules: Mapping[str, PIIRule] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_path = {f.path: f for f in self.fields}
        self.repeat_paths = frozenset(self.repeats)
        self.leaf_paths = frozenset(self._by_path)
        self.pii_rules = MappingProxyType({f.path: f.pii for f in self.fields if f.pii})

    def field(self, path: str) -> Field:
        """Return the field at a path (repeat positions such as '[2]' are ignored)."""
        found = self._by_path.get(path)
        if found is not None:
            return found
        try:
            return self._by_path[_POSITION.sub("", path)]
        except KeyError:
            raise KeyError(path) from None

    def has_field(self, path: str) -> bool:
        """Tell whether a path names a field of the form."""
        return path in self._by_path or _POSITION.sub("", path) in self._by_path

    def fields_in(self, repeat: str | None) -> tuple[Field, ...]:
        """Return the fields whose innermost repeat is the given one (None: the root table)."""
        return tuple(f for f in self.fields if f.repeat == repeat)

    def flatten(self, instance_xml: bytes) -> FlatInstance:
        """Flatten one submission's instance XML into its root row and repeat rows."""
        return flatten_instance(self, instance_xml)


def merge_models(older: FormModel, newer: FormModel) -> FormModel:
    """Return ``newer`` with the fields only ``older`` has revived (an export's deleted fields).

    As Central merges a form's versions for ``deletedFields``: the newer version's fields keep
    their order and their definition (type, labels, PII rule); a field it no longer has comes
    back, as the older version defined it, at the end of the innermost group or repeat they
    still share, so that a group dropped whole comes back whole and in its order. Repeats and
    groups only the older version has come back too.
    """
    merged = list(newer.fields)
    known = {f.path for f in merged}
    for revived in older.fields:
        if revived.path in known:
            continue
        merged.insert(_subtree_end(merged, revived.path, newer.root), revived)
        known.add(revived.path)
    return replace(
        newer,
        fields=tuple(merged),
        repeats=newer.repeats + tuple(r for r in older.repeats if r not in newer.repeat_paths),
        groups=newer.groups + tuple(g for g in older.groups if g not in newer.groups),
    )


def _subtree_end(fields: list[Field], path: str, root: str) -> int:
    """Where a field at ``path`` goes among ``fields``: after the last field of its nearest
    enclosing group or repeat that ``fields`` still has (the root's: at the end)."""
    parent = path.rsplit("/", 1)[0]
    while len(parent) > len(root):
        prefix = parent + "/"
        for at in range(len(fields) - 1, -1, -1):
            if fields[at].path.startswith(prefix):
                return at + 1
        parent = parent.rsplit("/", 1)[0]
    return len(fields)


def parse_xform(xml: bytes, policy: PIIPolicy | None = None) -> FormModel:
    """Parse an XForm into its model, attaching and checking a PII policy."""
    document = parse_xml(xml, what="XForm", limit=MAX_XFORM_BYTES)
    head = _required(child(document, "head"), "h:head")
    model = _required(child(head, "model"), "model")
    body = _required(child(document, "body"), "h:body")
    primary = _primary_instance(model)
    root = _required(next(iter(primary), None), "primary instance root")
    itext, default_language = _itext(model)
    parts = _Parts(
        binds={b.get("nodeset", ""): b for b in children(model, "bind")},
        controls=_controls(body),
        instances={i.get("id", ""): i for i in children(model, "instance") if i.get("id")},
        itext=itext,
    )
    repeats = _repeats(body, root)
    leaves, groups = _walk(root, "/" + local(root.tag), repeats)
    policy = policy or PIIPolicy()
    fields = tuple(_field(path, group, parts, repeats, policy) for path, group in leaves)
    known = {f.path for f in fields}
    for path in policy.fields:
        if path not in known:
            raise FormError(ErrorCode.XML_008, path=path)
    title = child(head, "title")
    return FormModel(
        form_id=root.get("id", ""),
        version=root.get("version", ""),
        title=(title.text or "").strip() if title is not None else "",
        root="/" + local(root.tag),
        languages=tuple(itext),
        fields=fields,
        repeats=tuple(r for r in _document_order(root, repeats)),
        groups=groups,
        default_language=default_language,
        policy=policy,
        entity=read_declaration(model, root),
    )


def _required(element: ET.Element | None, part: str) -> ET.Element:
    if element is None:
        raise FormError(ErrorCode.XML_004, part=part)
    return element


def _primary_instance(model: ET.Element) -> ET.Element:
    instances = children(model, "instance")
    primary = next((i for i in instances if not i.get("id")), instances[0] if instances else None)
    return _required(primary, "primary instance")


@dataclass
class _Parts:
    binds: dict[str, ET.Element]
    controls: dict[str, ET.Element]
    instances: dict[str, ET.Element]
    itext: dict[str, dict[str, str]]


def _itext(model: ET.Element) -> tuple[dict[str, dict[str, str]], str | None]:
    """Return {language: {text id: text}} and the default language."""
    found: dict[str, dict[str, str]] = {}
    default = None
    itext = child(model, "itext")
    for translation in children(itext, "translation") if itext is not None else []:
        language = translation.get("lang", DEFAULT_LANGUAGE)
        if translation.get("default"):
            default = language
        texts = found.setdefault(language, {})
        for text in children(translation, "text"):
            values = children(text, "value")
            plain = next((v for v in values if v.get("form") is None), None)
            if plain is not None:
                texts[text.get("id", "")] = render_text(plain)
    return found, default


def render_text(element: ET.Element) -> str:
    """Return an element's text with each <output value="/a/b"/> written as ${b}."""
    parts = [element.text or ""]
    for sub in element:
        if local(sub.tag) == "output":
            parts.append("${" + (sub.get("value") or "").strip().split("/")[-1] + "}")
        else:
            parts.append(render_text(sub))
        parts.append(sub.tail or "")
    return "".join(parts).strip()


def _controls(body: ET.Element) -> dict[str, ET.Element]:
    found: dict[str, ET.Element] = {}
    for element in body.iter():
        name = local(element.tag)
        ref = element.get("ref")
        if ref and name in _CONTROLS:
            found.setdefault(ref, element)
    return found


def _repeats(body: ET.Element, root: ET.Element) -> set[str]:
    found = {r.get("nodeset", "") for r in body.iter() if local(r.tag) == "repeat"}
    base = "/" + local(root.tag)
    stack: list[tuple[ET.Element, str]] = [(root, base)]
    while stack:
        element, path = stack.pop()
        for sub in element:
            sub_path = f"{path}/{local(sub.tag)}"
            if attribute(sub, "template") is not None:
                found.add(sub_path)
            stack.append((sub, sub_path))
    return {r for r in found if r}


def _walk(
    root: ET.Element, base: str, repeats: set[str]
) -> tuple[list[tuple[str, str | None]], tuple[str, ...]]:
    """Return the leaves (path, enclosing container) and the group paths, in document order."""
    leaves: dict[str, str | None] = {}
    groups: dict[str, None] = {}

    def visit(element: ET.Element, path: str, container: str | None) -> None:
        for sub in element:
            sub_path = f"{path}/{local(sub.tag)}"
            if len(sub):
                if sub_path not in repeats:
                    groups.setdefault(sub_path, None)
                visit(sub, sub_path, sub_path)
            elif sub_path not in repeats:
                leaves.setdefault(sub_path, container)

    visit(root, base, None)
    return list(leaves.items()), tuple(groups)


def _document_order(root: ET.Element, repeats: set[str]) -> list[str]:
    ordered: dict[str, None] = {}
    base = "/" + local(root.tag)

    def visit(element: ET.Element, path: str) -> None:
        for sub in element:
            sub_path = f"{path}/{local(sub.tag)}"
            if sub_path in repeats:
                ordered.setdefault(sub_path, None)
            visit(sub, sub_path)

    visit(root, base)
    return list(ordered)


def _innermost_repeat(path: str, repeats: set[str]) -> str | None:
    enclosing = [r for r in repeats if path.startswith(r + "/")]
    return max(enclosing, key=len) if enclosing else None


def _field(
    path: str, group: str | None, parts: _Parts, repeats: set[str], policy: PIIPolicy
) -> Field:
    bind = parts.binds.get(path)
    control = parts.controls.get(path)
    control_name = local(control.tag) if control is not None else None
    bind_type = (bind.get("type") if bind is not None else None) or "string"
    kind = _CONTROL_TYPES.get(control_name or "", bind_type.split(":")[-1])
    list_name, choice_filter, choices = _choices(control, parts)
    return Field(
        path=path,
        name=path.rsplit("/", 1)[-1],
        type=kind,
        group=group,
        repeat=_innermost_repeat(path, repeats),
        choices=choices,
        labels=_texts(control, "label", parts),
        hints=_texts(control, "hint", parts),
        control=control_name,
        required=_bind(bind, "required"),
        relevant=_bind(bind, "relevant"),
        constraint=_bind(bind, "constraint"),
        calculate=_bind(bind, "calculate"),
        readonly=_bind(bind, "readonly") in ("true()", "true"),
        list_name=list_name,
        choice_filter=choice_filter,
        pii=policy.rule_for(path),
    )


def _bind(bind: ET.Element | None, name: str) -> str | None:
    return bind.get(name) if bind is not None else None


def _texts(element: ET.Element | None, name: str, parts: _Parts) -> Mapping[str, str]:
    """Return a control's label or hint per language."""
    node = child(element, name) if element is not None else None
    if node is None:
        return MappingProxyType({})
    match = _ITEXT_REF.search(node.get("ref", ""))
    if match:
        return _translated(match.group(1), parts)
    text = render_text(node)
    return MappingProxyType({DEFAULT_LANGUAGE: text} if text else {})


def _translated(text_id: str, parts: _Parts) -> Mapping[str, str]:
    return MappingProxyType(
        {lang: texts[text_id] for lang, texts in parts.itext.items() if text_id in texts}
    )


def _choices(
    control: ET.Element | None, parts: _Parts
) -> tuple[str | None, str | None, tuple[Choice, ...]]:
    if control is None:
        return None, None, ()
    inline = children(control, "item")
    if inline:
        items = tuple(
            Choice(_text_of(child(i, "value")), _texts(i, "label", parts)) for i in inline
        )
        return None, None, items
    itemset = child(control, "itemset")
    if itemset is None:
        return None, None, ()
    match = _ITEMSET.match(itemset.get("nodeset", ""))
    if not match or match.group(1) not in parts.instances:
        return None, None, ()
    list_name, _, choice_filter = match.groups()
    value_ref = _ref_of(child(itemset, "value"), "name")
    label_ref = _ref_of(child(itemset, "label"), "label")
    list_root = next(iter(parts.instances[list_name]), None)
    found = tuple(
        _item(i, value_ref, label_ref, parts) for i in (list_root if list_root is not None else ())
    )
    return list_name, choice_filter, found


def _text_of(element: ET.Element | None) -> str:
    return (element.text or "") if element is not None else ""


def _ref_of(element: ET.Element | None, default: str) -> str:
    return element.get("ref", default) if element is not None else default


def _item(item: ET.Element, value_ref: str, label_ref: str, parts: _Parts) -> Choice:
    values = {local(c.tag): (c.text or "") for c in item}
    itext_id = re.match(r"^jr:itext\((\w+)\)$", label_ref.replace(" ", ""))
    if itext_id:
        labels = _translated(values.get(itext_id.group(1), ""), parts)
    else:
        text = values.get(label_ref, "")
        labels = MappingProxyType({DEFAULT_LANGUAGE: text} if text else {})
    return Choice(values.get(value_ref, ""), labels)
