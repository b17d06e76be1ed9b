"""Reading a request: system query options, the resource path, ``$select`` and filter names.

Central's rules: ``$expand`` takes only ``*``; ``$select`` with ``$expand`` and unknown ``$``
options are 501; booleans arrive as Python text (``True``). ``$skiptoken`` is opaque to clients:
"01" and base64url JSON of where the previous page stopped (a submission id and, in a repeat
table, the position of the last entry within it). ``$orderby`` sorts by submission metadata
(``__id``, ``__system/submissionDate``, ``updatedAt``, ``submitterId``, ``reviewState``,
``deletedAt``; ``$root/Submissions/…`` in a repeat table), ``asc`` with nulls first or ``desc``
with nulls last, ties in submission order; it cannot be combined with ``$skiptoken`` (501), so
its pages link on with ``$skip``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, func, null

from collector.errors import NotFound
from collector.models import Submission
from collector.odata.edm import SUBMISSIONS, SYSTEM_PROPERTIES, Node, Schema
from collector.odata.errors import (
    BadOption,
    ODataNotImplemented,
    PropertyNotFound,
    UnsupportedSelect,
)
from collector.odata.filter import Target, parse, split
from collector.odata.rows import Selection
from collector.odata.versions import logical, submitter

KNOWN_OPTIONS = frozenset(
    {
        "$top",
        "$skip",
        "$count",
        "$wkt",
        "$filter",
        "$expand",
        "$select",
        "$skiptoken",
        "$format",
        "$orderby",
    }
)
#: What ``$orderby`` may name (Central's set): the logical submission's metadata.
ORDERABLE = (
    "__id",
    "__system/submissionDate",
    "__system/updatedAt",
    "__system/submitterId",
    "__system/reviewState",
    "__system/deletedAt",
)
#: How a filter or an order names the submission a row belongs to (any table).
ROOT = "$root/Submissions/"
#: The lookup key of the submission's ``__id`` named through ``$root`` (a repeat row's own
#: ``__id`` is its row id).
ROOT_ID = "$root/__id"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,60}(/[A-Za-z_][A-Za-z0-9_]{0,60}){0,8}")
_SEGMENT = re.compile(r"^([^(]+)\('((?:[^']|'')*)'\)$")
_SYSTEM_KINDS = {
    "submissionDate": "datetime",
    "updatedAt": "datetime",
    "deletedAt": "datetime",
    "submitterId": "int",
    "attachmentsPresent": "int",
    "attachmentsExpected": "int",
    "edits": "int",
}
_EDM_KINDS = {
    "Edm.Int64": "number",
    "Edm.Decimal": "number",
    "Edm.Date": "date",
    "Edm.DateTimeOffset": "datetime",
    "Edm.Boolean": "bool",
    "Edm.GeographyPoint": "geo",
    "Edm.GeographyLineString": "geo",
    "Edm.GeographyPolygon": "geo",
}


@dataclass(frozen=True)
class Token:
    """Where a page stopped: the last submission, and the last entry's position within it."""

    submission: int
    position: int | None = None

    def encode(self) -> str:
        """Return the ``$skiptoken`` text."""
        body = {"s": self.submission} | ({} if self.position is None else {"r": self.position})
        raw = json.dumps(body, separators=(",", ":")).encode()
        return "01" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Token:
        """Read a ``$skiptoken``; anything malformed is a 400."""
        try:
            if not text.startswith("01") or len(text) > 200:
                raise ValueError(text)
            padded = text[2:] + "=" * (-len(text[2:]) % 4)
            body = json.loads(base64.urlsafe_b64decode(padded.encode()))
            submission, position = body["s"], body.get("r")
            if not isinstance(submission, int) or not isinstance(position, int | None):
                raise ValueError(text)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise BadOption(
                "the $skiptoken is not valid", code=400.11, option="$skiptoken"
            ) from None
        return cls(submission, position)


@dataclass(frozen=True)
class Options:
    """The OData system query options of one request."""

    top: int | None = None
    skip: int = 0
    count: bool = False
    wkt: bool = False
    filter: str | None = None
    expand: bool = False
    select: str | None = None
    skiptoken: Token | None = None
    #: ``$orderby`` as (property, descending) pairs, properties without ``$root/Submissions/``.
    orderby: tuple[tuple[str, bool], ...] = ()


def _flag(args: Mapping[str, str], name: str) -> bool:
    value = args.get(name)
    if value is None or value.strip().lower() in ("", "false"):
        return False
    if value.strip().lower() == "true":
        return True
    raise BadOption(f"{name} must be true or false", option=name)


def _whole(args: Mapping[str, str], name: str) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if not value.strip().isdigit() or len(value.strip()) > 12:
        raise BadOption(f"{name} must be a whole number, 0 or more", option=name)
    return int(value)


def parse_options(args: Mapping[str, str]) -> Options:
    """Read the ``$`` options of a request (``args`` already percent-decoded)."""
    unknown = sorted(k for k in args if k.startswith("$") and k not in KNOWN_OPTIONS)
    if unknown:
        name = unknown[0] if re.fullmatch(r"\$[A-Za-z]{1,30}", unknown[0]) else "this option"
        raise ODataNotImplemented(
            f"The requested feature {name} is not supported by this server.", feature=name
        )
    if args.get("$format", "json").split(";")[0].strip() not in ("json", "application/json"):
        raise ODataNotImplemented("only $format=json is supported", feature="$format")
    expand = args.get("$expand")
    if expand is not None and expand.strip() != "*":
        raise ODataNotImplemented(
            'The given OData expand expression is not supported by this server. Currently, only "'
            '$expand=*" is supported.',
            code=501.6,
        )
    select = args.get("$select")
    if expand is not None and select is not None:
        raise ODataNotImplemented(
            "This server doesn't support $select query parameter with $expand.", code=501.11
        )
    token = args.get("$skiptoken")
    orderby = parse_orderby(args["$orderby"]) if args.get("$orderby") else ()
    if orderby and token:
        raise ODataNotImplemented(
            "The requested feature using $orderby and $skiptoken together is not supported by "
            "this server.",
            feature="$orderby with $skiptoken",
        )
    return Options(
        top=_whole(args, "$top"),
        skip=_whole(args, "$skip") or 0,
        count=_flag(args, "$count"),
        wkt=_flag(args, "$wkt"),
        filter=args.get("$filter") or None,
        expand=expand is not None,
        select=None if select is None or select.strip() in ("", "*") else select,
        skiptoken=Token.decode(token) if token else None,
        orderby=orderby,
    )


def parse_orderby(text: str) -> tuple[tuple[str, bool], ...]:
    """Read ``$orderby``: comma-separated ``property [asc|desc]`` over submission metadata."""
    clauses = []
    for clause in text.split(","):
        name, *rest = clause.split() or [""]
        if name.startswith(ROOT):
            name = name[len(ROOT) :]
        if name not in ORDERABLE:
            raise _unsupported(name)
        if len(rest) > 1 or (rest and rest[0].lower() not in ("asc", "desc")):
            raise _unsupported(f"the direction after {name} (asc or desc)")
        clauses.append((name, bool(rest) and rest[0].lower() == "desc"))
    return tuple(clauses)


def _unsupported(what: str) -> ODataNotImplemented:
    # Name a property only as an identifier: the text might hold anything, even a person's name.
    shown = what if _NAME.fullmatch(what) or what.startswith("the direction") else "$orderby"
    return ODataNotImplemented(
        "The given OData filter expression references fields not supported by this server: "
        f"{shown}",
        code=501.5,
    )


def order_by(orderby: tuple[tuple[str, bool], ...]) -> list[UnaryExpression[Any]]:
    """The ORDER BY of an ``$orderby``: each property, then submission order as the tie-break
    (in the first property's direction)."""
    clauses: list[UnaryExpression[Any]] = []
    for name, descending in orderby:
        column = _order_column(name)
        if column is not None:
            clauses.append(column.desc().nulls_last() if descending else column.asc().nulls_first())
    first_descending = orderby[0][1] if orderby else False
    clauses.append(Submission.id.desc() if first_descending else Submission.id.asc())
    return clauses


def _order_column(name: str) -> ColumnElement[Any] | None:
    """The SQL of an orderable property (None for ``deletedAt``: no deleted submission is in
    the feed; the REST listing's ``?deleted=true`` gives them)."""
    if name == "__id":
        return logical("instance_id")
    if name == "__system/updatedAt":
        return func.coalesce(logical("updated_at"), Submission.updated_at)
    return _system_column(name.split("/", 1)[1])


@dataclass(frozen=True)
class Resource:
    """What a path below ``.svc/`` names: a table, and ids that narrow it."""

    table: Node
    name: str
    instance_id: str | None = None
    #: (table path, row id) pairs below the root: rows must descend from (or be) that row.
    within: tuple[tuple[str, str], ...] = ()


def parse_resource(schema: Schema, path: str) -> Resource:
    """Read ``Submissions``, ``Submissions.household`` or ``Submissions('…')/household``."""
    names: list[str] = []
    ids: list[tuple[int, str]] = []
    for index, segment in enumerate(path.strip("/").split("/")):
        match = _SEGMENT.match(segment)
        names.append(match.group(1) if match else segment)
        if match:
            ids.append((index, match.group(2).replace("''", "'")))
    name = ".".join(names)
    table = schema.table(name)
    if table is None or (ids and names[0] != SUBMISSIONS):
        raise NotFound("Could not find the resource you were looking for.")
    instance_id = next((value for index, value in ids if index == 0), None)
    within = []
    for index, value in ids:
        if index > 0:
            level = schema.table(".".join(names[: index + 1]))
            if level is None:
                raise NotFound("Could not find the resource you were looking for.")
            within.append((level.path, value))
    return Resource(table, name, instance_id, tuple(within))


def _walk(table: Node, name: str) -> Node | None:
    """Follow a slash path of sanitised names from a table through its groups."""
    node: Node | None = table
    for part in name.split("/"):
        if node is None or (node is not table and node.kind != "group"):
            return None
        node = next((c for c in node.children if c.name == part), None)
    return node


def parse_select(table: Node, text: str) -> Selection:
    """Read ``$select``: fields and groups of the table, ``__id``, ``__system[/x]``, parent id."""
    keep: set[str] = set()
    system: set[str] | None = None
    parent_id = False
    for prop in (p.strip() for p in text.split(",")):
        if prop == "__id":
            continue
        if table.kind == "root" and prop == "__system":
            system = set()
        elif table.kind == "root" and prop.startswith("__system/"):
            part = prop.split("/", 1)[1]
            if part not in dict(SYSTEM_PROPERTIES):
                raise PropertyNotFound(prop)
            system = (system or set()) | {part}
        elif table.kind == "repeat" and prop == table.parent_key:
            parent_id = True
        else:
            keep |= _selected(table, prop)
    frozen = None if system is None else frozenset(system)
    return Selection(frozenset(keep), frozen, parent_id)


def _selected(table: Node, prop: str) -> set[str]:
    node = _walk(table, prop)
    if node is None:
        inside_repeat = _walk(table, prop.split("/", 1)[0])
        if inside_repeat is not None and inside_repeat.kind == "repeat":
            raise UnsupportedSelect(prop)
        raise PropertyNotFound(prop)
    found = {node.path, *(d.path for d in node.descendants() if node.kind == "group")}
    parts = node.path.split("/")
    found |= {"/".join(parts[:i]) for i in range(len(table.path.split("/")) + 1, len(parts))}
    return found


def resolver(table: Node) -> Callable[[str], Target]:
    """Return the filter's name resolver for a table."""

    def resolve(name: str) -> Target:
        if name.startswith(ROOT):
            name = name[len(ROOT) :]
            if name == "__id":
                return Target(ROOT_ID, "string", logical("instance_id"))
            if table.kind != "root" and not name.startswith("__system/"):
                raise ODataNotImplemented(
                    "The given OData filter expression references fields not supported by this "
                    "server: only __id and __system/… of $root/Submissions",
                    code=501.5,
                )
        if name.startswith("__system/"):
            part = name.split("/", 1)[1]
            if part not in dict(SYSTEM_PROPERTIES):
                raise PropertyNotFound(name)
            return Target(name, _SYSTEM_KINDS.get(part, "string"), _system_column(part))
        if name == "__id":
            return Target(name, "string", logical("instance_id") if table.kind == "root" else None)
        if table.kind == "repeat" and name == table.parent_key:
            top = table.parent_key == "__Submissions-id"
            return Target(name, "string", logical("instance_id") if top else None)
        node = _walk(table, name)
        if node is None:
            raise PropertyNotFound(name)
        if node.kind != "field":
            raise ODataNotImplemented(
                "The given OData filter expression references fields not supported by this "
                "server: a group or a repeat cannot be compared",
                code=501.5,
            )
        return Target(node.path, _EDM_KINDS.get(node.edm, "string"))

    return resolve


#: What an export's ``$filter`` may name, with or without ``$root/Submissions/`` (Central's
#: filterable submission fields), and how each reads.
EXPORT_FILTERABLE = {
    "__id": "string",
    "__system/submissionDate": "datetime",
    "__system/updatedAt": "datetime",
    "__system/submitterId": "int",
    "__system/reviewState": "string",
    "__system/deletedAt": "datetime",
}


def export_filter(text: str) -> list[ColumnElement[bool]]:
    """Read an export's ``$filter`` into SQL conditions on the submissions it exports.

    It compares submission metadata with values (``and``, ``or``, ``not``, ``eq`` … ``le``, as
    the feed); anything else is refused (501.5) before anything is read or audited.
    """

    def resolve(name: str) -> Target:
        bare = name.removeprefix(ROOT)
        if bare not in EXPORT_FILTERABLE:
            raise ODataNotImplemented(
                "The given OData filter expression references fields not supported by this "
                "server: an export filters on __id and __system/ submissionDate, updatedAt, "
                "submitterId, reviewState and deletedAt",
                code=501.5,
            )
        return Target(bare, EXPORT_FILTERABLE[bare], _export_column(bare))

    sql, rest = split(parse(text, resolve))
    if rest is not None:
        raise ODataNotImplemented(
            "an export's $filter compares fields with values; year() and the other functions "
            "are not applied here (compare with a range: ge 2025-01-01 and lt 2026-01-01)",
            code=501.5,
        )
    return sql


def _export_column(name: str) -> ColumnElement[Any]:
    if name == "__system/deletedAt":
        return null()  # a deleted submission is never exported
    column = _order_column(name)
    assert column is not None  # every other filterable field is orderable
    return column


def _system_column(part: str) -> ColumnElement[Any] | None:
    """Return the SQL of a metadata property, or None when it is evaluated on rows."""
    if part == "submissionDate":
        return logical("created_at")
    if part == "reviewState":
        return logical("review_state")
    if part == "submitterId":
        return submitter()
    if part == "deviceId":
        return Submission.device_id.expression
    return None
