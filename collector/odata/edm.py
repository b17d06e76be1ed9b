"""The entity data model of a form, as ODK Central shapes it, with the PII policy applied.

The form's fields become a tree: groups are complex types, repeats are entity types of their own
(``Submissions.<path>``) reached through navigation properties, and every entity set carries
``__id``; the root also carries ``__system`` (submission metadata). Names are sanitised as
Central does. Types follow the stored value, not only the question: an identifier is a pseudonym
token and a generalised quasi-identifier a band or a year, so both are ``Edm.String`` whatever
the question's type; sensitive values keep their type (they are either the value or null).
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from forms.model import Field, FormModel
from forms.policy import PIIKind

SUBMISSIONS = "Submissions"
ENTITIES = "Entities"
SYSTEM_NAMESPACE = "org.opendatakit.submission"
ENTITY_NAMESPACE = "org.opendatakit.entity"
USER_NAMESPACE = "org.opendatakit.user"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
CAPABILITIES = "Org.OData.Capabilities.V1"
_FIRST = re.compile(r"^([^a-z_])", re.IGNORECASE)
_INVALID = re.compile(r"[^a-z0-9_]+", re.IGNORECASE)
_TYPES = {
    "int": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
}
# Quasi-identifier rules whose output still has the question's type (a rounded point or number).
_TYPE_KEEPING_RULES = {("round", "geopoint"), ("round", "decimal")}
SYSTEM_PROPERTIES = (
    ("submissionDate", "Edm.DateTimeOffset"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("deletedAt", "Edm.DateTimeOffset"),
    ("submitterId", "Edm.String"),
    ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"),
    ("attachmentsExpected", "Edm.Int64"),
    ("status", f"{SYSTEM_NAMESPACE}.Status"),
    ("reviewState", f"{SYSTEM_NAMESPACE}.ReviewState"),
    ("deviceId", "Edm.String"),
    ("edits", "Edm.Int64"),
    ("formVersion", "Edm.String"),
)
# An entity's ``__system`` (Central's order).
ENTITY_SYSTEM_PROPERTIES = (
    ("createdAt", "Edm.DateTimeOffset"),
    ("creatorId", "Edm.String"),
    ("creatorName", "Edm.String"),
    ("updates", "Edm.Int64"),
    ("updatedAt", "Edm.DateTimeOffset"),
    ("deletedAt", "Edm.DateTimeOffset"),
    ("version", "Edm.Int64"),
    ("conflict", "Edm.String"),
)
STATUS_MEMBERS = ("notDecrypted", "missingEncryptedFormData")
REVIEW_MEMBERS = ("hasIssues", "edited", "rejected", "approved")

Kind = Literal["root", "group", "repeat", "field"]


def sanitise(name: str) -> str:
    """Return an OData identifier for an XML name (Central's rule: other characters become _)."""
    return _INVALID.sub("_", _FIRST.sub(r"_\1", name))


def edm_type(item: Field) -> str:
    """Return the EDM type of a field's stored value (see the module docstring)."""
    rule = item.pii
    if rule is not None and rule.kind == PIIKind.IDENTIFIER:
        return "Edm.String"
    if rule is not None and rule.kind == PIIKind.QUASI:
        name = (rule.rule or "").partition(":")[0]
        if (name, item.type) not in _TYPE_KEEPING_RULES:
            return "Edm.String"
    return _TYPES.get(item.type, "Edm.String")


@dataclass
class Node:
    """One element below the root: a field, a group, or a repeat (or the root itself)."""

    kind: Kind
    path: str
    name: str
    field: Field | None = None
    children: list[Node] = dataclasses.field(default_factory=list)
    #: Entity name of a repeat or the root ("Submissions.household"); the complex type's name
    #: of a group ("meta", "household.details").
    type_name: str = ""
    #: For a repeat: the property holding its parent's id ("__Submissions-id").
    parent_key: str = ""
    #: For a repeat: the path of the table whose rows hold it (the root or a repeat).
    owner: str = ""

    @property
    def edm(self) -> str:
        """Return the EDM type of a field node."""
        assert self.field is not None
        return edm_type(self.field)

    def descendants(self) -> list[Node]:
        """Return every node below this one, depth first, in form order."""
        found: list[Node] = []
        for child in self.children:
            found.append(child)
            found.extend(child.descendants())
        return found


@dataclass
class Schema:
    """A form's data model: the node tree and its tables (entity sets) by name."""

    model: FormModel
    root: Node
    tables: dict[str, Node]
    #: Every node by its instance path.
    nodes: dict[str, Node]

    @property
    def namespace(self) -> str:
        """Return the namespace of the form's own types."""
        return f"{USER_NAMESPACE}.{sanitise(self.model.form_id)}"

    def table(self, name: str) -> Node | None:
        """Return the root or repeat node of a table name, or None."""
        return self.tables.get(name)


def _parts(model: FormModel, path: str) -> list[str]:
    return [sanitise(p) for p in path[len(model.root) + 1 :].split("/")]


def _visible(item: Field) -> bool:
    return not item.is_note and not (item.pii is not None and item.pii.kind == PIIKind.DROP)


def schema_for(model: FormModel) -> Schema:
    """Build the node tree of a form model (fields in form order, dropped fields left out)."""
    root = Node("root", model.root, SUBMISSIONS, type_name=SUBMISSIONS)
    nodes = {model.root: root}
    repeats, groups = set(model.repeats), set(model.groups)

    def container(path: str) -> Node:
        if path not in nodes:
            parent = container(path.rsplit("/", 1)[0])
            kind: Kind = "repeat" if path in repeats else "group"
            node = Node(kind, path, sanitise(path.rsplit("/", 1)[1]))
            node.type_name = ".".join(_parts(model, path))
            if kind == "repeat":
                node.type_name = f"{SUBMISSIONS}.{node.type_name}"
                node.owner = _enclosing_repeat(path, repeats) or model.root
                node.parent_key = _parent_key(model, node.owner)
            parent.children.append(node)
            nodes[path] = node
        return nodes[path]

    for item in model.fields:
        if _visible(item):
            parent = container(item.path.rsplit("/", 1)[0])
            parent.children.append(Node("field", item.path, sanitise(item.name), item))
    for path in (*model.repeats, *groups):
        container(path)
    tables = {SUBMISSIONS: root}
    tables |= {n.type_name: n for n in root.descendants() if n.kind == "repeat"}
    return Schema(model, root, tables, {n.path: n for n in (root, *root.descendants())})


def _enclosing_repeat(path: str, repeats: set[str]) -> str | None:
    enclosing = [r for r in repeats if path.startswith(r + "/")]
    return max(enclosing, key=len) if enclosing else None


def _parent_key(model: FormModel, owner: str) -> str:
    if owner == model.root:
        return f"__{SUBMISSIONS}-id"
    return "__" + "-".join([SUBMISSIONS, *_parts(model, owner)]) + "-id"


def segments_below(model: FormModel, owner: str, path: str) -> list[str]:
    """Return the sanitised names from a table (root or repeat) down to a node below it."""
    return [sanitise(p) for p in path[len(owner) + 1 :].split("/")]


def service_document(schema: Schema, service_url: str) -> dict[str, object]:
    """Return the OData service document: one entity set per table."""
    return {
        "@odata.context": f"{service_url}/$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in schema.tables],
    }


def metadata_xml(schema: Schema) -> bytes:
    """Return the CSDL (EDMX 4.0) metadata document of a form."""
    return _edmx(_system_schema(), _form_schema(schema))


def entity_service_document(service_url: str) -> dict[str, object]:
    """Return the service document of an entity list: its one entity set."""
    return {
        "@odata.context": f"{service_url}/$metadata",
        "value": [{"name": ENTITIES, "kind": "EntitySet", "url": ENTITIES}],
    }


def entity_metadata_xml(dataset_name: str, properties: Sequence[str]) -> bytes:
    """Return the CSDL of an entity list, in Central's shape: one ``Entities`` type with
    ``__id``, ``__system`` (the entity's metadata), ``label`` and a string per property.

    Entities are read newest first; ``$filter`` and ``$orderby`` take ``__id`` and
    ``__system`` fields, not ``label`` or the properties, and the annotations say so.
    """
    system = ET.Element("Schema", xmlns=EDM, Namespace=ENTITY_NAMESPACE)
    metadata = _edm(system, "ComplexType", Name="metadata")
    for name, kind in ENTITY_SYSTEM_PROPERTIES:
        _edm(metadata, "Property", Name=name, Type=kind)
    namespace = f"{USER_NAMESPACE}.{sanitise(dataset_name)}"
    own = ET.Element("Schema", xmlns=EDM, Namespace=namespace)
    entity = _edm(own, "EntityType", Name=ENTITIES)
    _edm(_edm(entity, "Key"), "PropertyRef", Name="__id")
    _edm(entity, "Property", Name="__id", Type="Edm.String")
    _edm(entity, "Property", Name="__system", Type=f"{ENTITY_NAMESPACE}.metadata")
    names = ["label", *(sanitise(p) for p in properties)]
    for name in names:
        _edm(entity, "Property", Name=name, Type="Edm.String")
    container = _edm(own, "EntityContainer", Name=sanitise(dataset_name))
    entity_set = _edm(container, "EntitySet", Name=ENTITIES, EntityType=f"{namespace}.{ENTITIES}")
    _capabilities(entity_set, sortable=True, expandable=False, unqueryable=names)
    return _edmx(system, own)


def _edmx(*schemas: ET.Element) -> bytes:
    ET.register_namespace("edmx", EDMX)
    edmx = ET.Element(f"{{{EDMX}}}Edmx", Version="4.0")
    services = ET.SubElement(edmx, f"{{{EDMX}}}DataServices")
    services.extend(schemas)
    ET.indent(edmx)
    body = ET.tostring(edmx, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode()


def _edm(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    # EDM elements are written unqualified under a Schema that declares EDM as the default
    # namespace, as Central writes them; some OData clients read no prefixes.
    return ET.SubElement(parent, tag, attributes)


def _system_schema() -> ET.Element:
    schema = ET.Element("Schema", xmlns=EDM, Namespace=SYSTEM_NAMESPACE)
    metadata = _edm(schema, "ComplexType", Name="metadata")
    for name, kind in SYSTEM_PROPERTIES:
        _edm(metadata, "Property", Name=name, Type=kind)
    for enum, members in (("Status", STATUS_MEMBERS), ("ReviewState", REVIEW_MEMBERS)):
        element = _edm(schema, "EnumType", Name=enum)
        for member in members:
            _edm(element, "Member", Name=member)
    return schema


def _form_schema(schema: Schema) -> ET.Element:
    out = ET.Element("Schema", xmlns=EDM, Namespace=schema.namespace)
    for table in schema.tables.values():
        entity = _edm(out, "EntityType", Name=table.type_name)
        _edm(_edm(entity, "Key"), "PropertyRef", Name="__id")
        _edm(entity, "Property", Name="__id", Type="Edm.String")
        if table.kind == "root":
            _edm(entity, "Property", Name="__system", Type=f"{SYSTEM_NAMESPACE}.metadata")
        else:
            _edm(entity, "Property", Name=table.parent_key, Type="Edm.String")
        _properties(entity, table, schema.namespace)
    for node in schema.root.descendants():
        if node.kind == "group":
            _properties(_edm(out, "ComplexType", Name=node.type_name), node, schema.namespace)
    out.append(_container(schema))
    return out


def _properties(element: ET.Element, node: Node, namespace: str) -> None:
    for child in node.children:
        if child.kind == "field":
            _edm(element, "Property", Name=child.name, Type=child.edm)
        elif child.kind == "group":
            _edm(element, "Property", Name=child.name, Type=f"{namespace}.{child.type_name}")
        else:
            kind = f"Collection({namespace}.{child.type_name})"
            _edm(element, "NavigationProperty", Name=child.name, Type=kind)


def _container(schema: Schema) -> ET.Element:
    container = ET.Element("EntityContainer", Name=sanitise(schema.model.form_id))
    for name, table in schema.tables.items():
        entity_set = _edm(
            container, "EntitySet", Name=name, EntityType=f"{schema.namespace}.{table.type_name}"
        )
        for child in table.descendants():
            if child.kind == "repeat" and child.owner == table.path:
                path = "/".join(segments_below(schema.model, table.path, child.path))
                _edm(entity_set, "NavigationPropertyBinding", Path=path, Target=child.type_name)
        if table.kind == "root":
            _capabilities(entity_set)
    return container


def _capabilities(
    entity_set: ET.Element,
    *,
    sortable: bool = False,
    expandable: bool = True,
    unqueryable: Sequence[str] = (),
) -> None:
    """What a client may ask of an entity set; ``unqueryable`` properties take no
    ``$filter`` or ``$orderby``."""
    _edm(
        entity_set,
        "Annotation",
        Term=f"{CAPABILITIES}.ConformanceLevel",
        EnumMember=f"{CAPABILITIES}.ConformanceLevelType/Minimal",
    )
    _edm(entity_set, "Annotation", Term=f"{CAPABILITIES}.BatchSupported", Bool="false")
    for term, prop, value, excluded in (
        ("CountRestrictions", "Countable", "true", ""),
        ("FilterRestrictions", "Filterable", "true", "NonFilterableProperties"),
        ("SortRestrictions", "Sortable", _bool(sortable), "NonSortableProperties"),
        ("ExpandRestrictions", "Expandable", _bool(expandable), ""),
    ):
        record = _edm(_edm(entity_set, "Annotation", Term=f"{CAPABILITIES}.{term}"), "Record")
        _edm(record, "PropertyValue", Property=prop, Bool=value)
        if excluded and unqueryable:
            listed = _edm(_edm(record, "PropertyValue", Property=excluded), "Collection")
            for name in unqueryable:
                _edm(listed, "PropertyPath").text = name


def _bool(value: bool) -> str:
    return "true" if value else "false"
