"""Hardened XML parsing for forms and submissions: no DTD, no entities, bounded size.

A document is first read by a bare expat parser that only watches for a document type
declaration (the one place entities can be declared) and refuses it; only a document without
one is then built into a tree, by ElementTree's C parser. Both passes run in C: vetting first
costs far less than building the tree through Python callbacks, as a hardened tree builder
would, and submissions are parsed by the thousand.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pyexpat import ExpatError, ParserCreate
from typing import NoReturn

from forms.errors import ErrorCode, FormError

MAX_XFORM_BYTES = 10 * 1024 * 1024
MAX_INSTANCE_BYTES = 50 * 1024 * 1024


def parse_xml(data: bytes, *, what: str, limit: int) -> ET.Element:
    """Parse XML bytes, refusing DTDs, entities and anything above the size limit."""
    if len(data) > limit:
        raise FormError(ErrorCode.XML_003, what=what, limit=limit)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FormError(ErrorCode.XML_002, what=what)
    _vet(data, what)
    try:
        # Safe here: _vet has refused any DTD, so no entity can be declared or expanded.
        return ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:  # Not expected after vetting: the same expat read it.
        raise FormError(ErrorCode.XML_001, what=what, detail=str(exc)) from None


class _Refused(Exception):
    pass


def _refuse(*_args: object) -> NoReturn:
    raise _Refused


def _vet(data: bytes, what: str) -> None:
    """Read the document with expat alone; refuse a DTD, an entity or ill-formed XML.

    The byte check above misses a DTD in another encoding (UTF-16, say); expat sees it.
    """
    parser = ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    try:
        parser.Parse(data, True)
    except _Refused:
        raise FormError(ErrorCode.XML_002, what=what) from None
    except ExpatError as exc:
        raise FormError(ErrorCode.XML_001, what=what, detail=str(exc)) from None
    except (LookupError, ValueError):  # An encoding expat and Python cannot read as text.
        raise FormError(ErrorCode.XML_001, what=what, detail="unreadable encoding") from None


def local(tag: object) -> str:
    """Return an element tag or attribute name without its namespace."""
    text = tag if type(tag) is str else str(tag)
    if text.startswith("{"):
        return text.rsplit("}", 1)[-1]
    return text.rsplit(":", 1)[-1] if ":" in text else text


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
