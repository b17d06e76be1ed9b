"""Structural checks of a built XForm that ODK's web-forms engine does not make.

That engine silently drops a question whose ``ref`` matches no node, ignores a bind that
matches nothing, treats unknown bind types as strings, and does not notice missing itext, an
undeclared ``instance('x')`` or an expression naming a node that does not exist. These checks
close those gaps, so a form that passes both is sound for Collect as well.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator

from forms.errors import ErrorCode, Finding, FormError
from forms.xmlsafe import MAX_XFORM_BYTES, attribute, child, children, local, parse_xml

BIND_TYPES = {
    "string", "int", "integer", "decimal", "date", "dateTime", "time", "geopoint", "geotrace",
    "geoshape", "binary", "barcode", "boolean", "rank", "odk:rank", "select", "select1", "intent",
}  # fmt: skip
_EXPRESSION_ATTRIBUTES = ("relevant", "constraint", "calculate", "required", "readonly", "value")
_ITEXT = re.compile(r"""jr:itext\(\s*['"]([^'"]+)['"]\s*\)""")
_INSTANCE = re.compile(r"""instance\(\s*['"]([^'"]+)['"]\s*\)""")
_SKIPPED_BODY = {"label", "hint", "value", "itemset", "item", "output"}


def verify_xform(xml: bytes) -> list[Finding]:
    """Check binds, body refs, expression paths, instance ids and itext of an XForm."""
    try:
        document = parse_xml(xml, what="XForm", limit=MAX_XFORM_BYTES)
        _, model, body, root = _parts(document)
    except FormError as error:
        return [Finding.from_error(error)]
    nodes = _instance_paths(root)
    instances = {i.get("id", "") for i in children(model, "instance")} - {""}
    findings = list(_binds(model, nodes))
    findings += _body_refs(body, nodes)
    findings += _expressions(model, body, nodes, "/" + local(root.tag), instances)
    findings += _itext(model, body)
    return findings


def _parts(document: ET.Element) -> tuple[ET.Element, ET.Element, ET.Element, ET.Element]:
    head = child(document, "head")
    model = child(head, "model") if head is not None else None
    body = child(document, "body")
    if head is None or model is None or body is None:
        raise FormError(ErrorCode.XML_004, part="h:head, model and h:body")
    primary = next((i for i in children(model, "instance") if not i.get("id")), None)
    root = next(iter(primary), None) if primary is not None else None
    if root is None:
        raise FormError(ErrorCode.XML_004, part="primary instance")
    return head, model, body, root


def _instance_paths(root: ET.Element) -> set[str]:
    """Every element of the primary instance, and every attribute (``…/entity/@id``)."""
    paths: set[str] = set()
    stack = [(root, "/" + local(root.tag))]
    while stack:
        element, path = stack.pop()
        paths.add(path)
        paths.update(f"{path}/@{local(name)}" for name in element.attrib)
        stack.extend((sub, f"{path}/{local(sub.tag)}") for sub in element)
    return paths


def _binds(model: ET.Element, nodes: set[str]) -> Iterator[Finding]:
    for bind in children(model, "bind"):
        nodeset = bind.get("nodeset", "")
        if nodeset not in nodes:
            yield Finding.of(ErrorCode.XML_005, where="bind nodeset", ref=nodeset)
        kind = bind.get("type")
        if kind is not None and kind.removeprefix("xsd:") not in BIND_TYPES:
            yield Finding.of(ErrorCode.XML_010, ref=nodeset, value=kind)


def _body_refs(body: ET.Element, nodes: set[str]) -> Iterator[Finding]:
    def visit(element: ET.Element, context: str) -> Iterator[Finding]:
        for sub in element:
            name = local(sub.tag)
            if name in _SKIPPED_BODY:
                continue
            ref = sub.get("ref") or (sub.get("nodeset") if name == "repeat" else None)
            here = context
            if ref:
                here = ref if ref.startswith("/") else f"{context}/{ref}"
                if here not in nodes:
                    yield Finding.of(ErrorCode.XML_005, where=f"body {name} ref", ref=ref)
            yield from visit(sub, here)

    yield from visit(body, "")


def _expression_texts(model: ET.Element, body: ET.Element) -> Iterable[str]:
    for bind in children(model, "bind"):
        yield from (bind.get(a, "") for a in _EXPRESSION_ATTRIBUTES)
    for element in body.iter():
        name = local(element.tag)
        if name == "itemset":
            yield element.get("nodeset", "")
        elif name in ("output", "setvalue"):
            yield element.get("value", "")
        count = attribute(element, "count")
        if count:
            yield count
    for element in model.iter():
        if local(element.tag) in ("output", "setvalue"):
            yield element.get("value", "")


def _expressions(
    model: ET.Element, body: ET.Element, nodes: set[str], root: str, instances: set[str]
) -> Iterator[Finding]:
    path = re.compile(r"(?<![\w)\].'\"/])" + re.escape(root) + r"(?:/[A-Za-z_][\w.\-]*)+")
    seen: set[str] = set()
    for text in _expression_texts(model, body):
        for ref in path.findall(text):
            if ref not in nodes and ref not in seen:
                seen.add(ref)
                yield Finding.of(ErrorCode.XML_005, where="expression path", ref=ref)
        for name in _INSTANCE.findall(text):
            if name not in instances and name not in seen:
                seen.add(name)
                yield Finding.of(ErrorCode.XML_005, where="instance reference", ref=name)


def _itext(model: ET.Element, body: ET.Element) -> Iterator[Finding]:
    itext = child(model, "itext")
    translations = children(itext, "translation") if itext is not None else []
    ids = {t.get("lang", ""): {x.get("id", "") for x in children(t, "text")} for t in translations}
    wanted = set().union(*ids.values()) if ids else set()
    for element in (*model.iter(), *body.iter()):
        for value in element.attrib.values():
            wanted.update(_ITEXT.findall(value))
    wanted |= _item_itext_ids(model)
    for language, present in ids.items():
        for text_id in sorted(wanted - present):
            yield Finding.of(ErrorCode.XML_006, language=language, text_id=text_id)
    if not ids and wanted:
        yield Finding.of(ErrorCode.XML_004, part=f"itext for {len(wanted)} referenced texts")


def _item_itext_ids(model: ET.Element) -> set[str]:
    return {
        (element.text or "").strip()
        for element in model.iter()
        if local(element.tag) == "itextId" and (element.text or "").strip()
    }
