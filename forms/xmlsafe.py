"""Hardened XML parsing for forms and submissions: no DTD, no entities, bounded size."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from forms.errors import ErrorCode, FormError

MAX_XFORM_BYTES = 10 * 1024 * 1024
MAX_INSTANCE_BYTES = 50 * 1024 * 1024


def parse_xml(data: bytes, *, what: str, limit: int) -> ET.Element:
    """Parse XML bytes, refusing DTDs, entities and anything above the size limit."""
    if len(data) > limit:
        raise FormError(ErrorCode.XML_003, what=what, limit=limit)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FormError(ErrorCode.XML_002, what=what)
    try:
        root: ET.Element = fromstring(data, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException:
        raise FormError(ErrorCode.XML_002, what=what) from None
    except ET.ParseError as exc:
        raise FormError(ErrorCode.XML_001, what=what, detail=str(exc)) from None
    return root


def local(tag: object) -> str:
    """Return an element tag or attribute name without its namespace."""
    text = str(tag)
    return text.rsplit("}", 1)[-1] if text.startswith("{") else text.split(":")[-1]


def children(element: ET.Element, name: str) -> list[ET.Element]:
    """Return the direct children with a given local name."""
    return [child for child in element if local(child.tag) == name]


def child(element: ET.Element, name: str) -> ET.Element | None:
    """Return the first direct child with a given local name."""
    return next((c for c in element if local(c.tag) == name), None)


def attribute(element: ET.Element, name: str) -> str | None:
    """Return an attribute by local name, whatever its namespace."""
    for key, value in element.attrib.items():
        if local(key) == name:
            return value
    return None
