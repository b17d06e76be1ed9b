"""The OpenAPI 3.1 document of the whole surface, built from the routes and their schemas.

Every REST view carries an ``operation`` (its summary, who may call it, its request body and
response schemas); routes of other blueprints (OpenRosa, OData) are described from their
docstrings. ``GET /v1/openapi.json`` serves it; ``x-access`` on each operation says who may call
it (``public``, ``user``, ``project``, ``admin``, ``app-user-token``, ``draft-token``) and the
role tests read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify
from marshmallow import Schema, fields

from api.schemas.common import ProblemSchema, SuccessSchema, Timestamp

bp = Blueprint("openapi", __name__, url_prefix="/v1")

F = TypeVar("F", bound=Callable[..., Any])
ACCESS = ("public", "user", "project", "admin", "app-user-token", "draft-token")
#: The kinds of access a token in the URL grants (OpenRosa), not a bearer.
URL_TOKENS = ("app-user-token", "draft-token")
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
JSON = "application/json"


@dataclass(frozen=True)
class Operation:
    """How one view is documented."""

    summary: str
    access: str
    body: type[Schema] | None = None
    response: type[Schema] | None = None
    many: bool = False
    status: int = 200
    query: tuple[tuple[str, str, str], ...] = ()
    consumes: tuple[str, ...] = ()
    produces: str = JSON
    errors: tuple[int, ...] = field(default=())


def operation(summary: str, access: str, **options: Any) -> Callable[[F], F]:
    """Document a view (and declare who may call it)."""
    if access not in ACCESS:
        raise ValueError(f"unknown access {access!r}")
    op = Operation(summary, access, **options)

    def mark(view: F) -> F:
        view.openapi = op  # type: ignore[attr-defined]
        return view

    return mark


def _field_schema(item: fields.Field[Any]) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(item, fields.Nested):
        ref: dict[str, Any] = {"$ref": f"#/components/schemas/{_name(_nested(item))}"}
        out = {"type": "array", "items": ref} if item.many else ref
    elif isinstance(item, fields.List):
        out = {"type": "array", "items": _field_schema(item.inner)}
    elif isinstance(item, Timestamp | fields.DateTime):
        out = {"type": "string", "format": "date-time"}
    elif isinstance(item, fields.Constant):
        out = {"const": item.constant}
    else:
        out = _scalar(item)
    if item.allow_none and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    elif item.allow_none:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _nested(item: fields.Nested) -> type[Schema]:
    nested = item.nested
    if isinstance(nested, type) and issubclass(nested, Schema):
        return nested
    if isinstance(nested, Schema):
        return type(nested)
    raise TypeError(f"cannot document nested schema {nested!r}")


def _scalar(item: fields.Field[Any]) -> dict[str, Any]:
    kinds: list[tuple[type[fields.Field[Any]], str]] = [
        (fields.Boolean, "boolean"),
        (fields.Integer, "integer"),
        (fields.Float, "number"),
        (fields.Dict, "object"),
        (fields.String, "string"),
    ]
    for kind, name in kinds:
        if isinstance(item, kind):
            return {"type": name}
    return {}


def _name(schema: type[Schema]) -> str:
    return schema.__name__.removesuffix("Schema") or schema.__name__


def _component(schema: type[Schema], dump: bool) -> dict[str, Any]:
    instance = schema()
    props: dict[str, Any] = {}
    required = []
    for name, item in instance.fields.items():
        if (dump and item.load_only) or (not dump and item.dump_only):
            continue
        key = item.data_key or name
        props[key] = _field_schema(item)
        if item.required:
            required.append(key)
    doc = (schema.__doc__ or "").strip()
    out: dict[str, Any] = {"type": "object", "properties": props, "description": doc}
    if required:
        out["required"] = required
    return out


def _collect(schema: type[Schema], found: dict[str, type[Schema]]) -> None:
    if _name(schema) in found:
        return
    found[_name(schema)] = schema
    for item in schema().fields.values():
        inner = item.inner if isinstance(item, fields.List) else item
        if isinstance(inner, fields.Nested):
            _collect(_nested(inner), found)


def path_template(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """Turn a Werkzeug rule into an OpenAPI path template and its path parameters."""
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer" if converter == "int" else "string"},
        }
        for converter, name in _PARAM.findall(rule)
    ]
    return _PARAM.sub(r"{\2}", rule), params


def _responses(op: Operation) -> dict[str, Any]:
    problem = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    out: dict[str, Any] = {}
    if op.response is not None:
        ref = {"$ref": f"#/components/schemas/{_name(op.response)}"}
        body = {"type": "array", "items": ref} if op.many else ref
        out[str(op.status)] = {"description": "OK", "content": {op.produces: {"schema": body}}}
    else:
        out[str(op.status)] = {"description": "OK", "content": {op.produces: {}}}
    codes = {400, 404, *op.errors}
    if op.access != "public":
        codes |= {401, 403}
    for code in sorted(codes):
        out[str(code)] = {"description": "a problem", **problem}
    return out


def _operation(op: Operation, params: list[dict[str, Any]], endpoint: str) -> dict[str, Any]:
    query = [
        {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
        for n, t, d in op.query
    ]
    out: dict[str, Any] = {
        "operationId": endpoint,
        "summary": op.summary,
        "x-access": op.access,
        "parameters": params + query,
        "responses": _responses(op),
    }
    if op.access != "public" and op.access not in URL_TOKENS:
        out["security"] = [{"bearer": []}]
    if op.body is not None:
        ref = {"$ref": f"#/components/schemas/{_name(op.body)}"}
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": ref}}}
    elif op.consumes:
        binary = {"schema": {"type": "string", "format": "binary"}}
        out["requestBody"] = {"required": True, "content": {c: binary for c in op.consumes}}
    return out


def _undocumented(view: Callable[..., Any], rule: str) -> Operation:
    summary = ((view.__doc__ or "").strip().splitlines() or [view.__name__])[0]
    test = rule.startswith("/v1/test/")
    access = "app-user-token" if "/key/" in rule else "draft-token" if test else "project"
    openrosa = access in URL_TOKENS
    return Operation(summary, access, produces="application/xml" if openrosa else JSON)


def operations(app: Flask) -> Iterable[tuple[str, str, str, Operation]]:
    """Yield (method, rule, endpoint, operation) for every route under /v1."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        op = getattr(view, "openapi", None) or _undocumented(view, rule.rule)
        methods = set(rule.methods or ()) - {"OPTIONS"}
        if "GET" in methods:
            methods.discard("HEAD")
        for method in sorted(methods):
            yield method, rule.rule, rule.endpoint, op


def document(app: Flask) -> dict[str, Any]:
    """Build the OpenAPI document of an app."""
    paths: dict[str, dict[str, Any]] = {}
    found: dict[str, type[Schema]] = {"Problem": ProblemSchema, "Success": SuccessSchema}
    # A view served under two rules tells them apart by a flag in its defaults (``draft``).
    flags = {
        r.rule: [k for k, v in sorted((r.defaults or {}).items()) if v is True]
        for r in app.url_map.iter_rules()
    }
    for method, rule, endpoint, op in operations(app):
        path, params = path_template(rule)
        operation_id = ".".join([endpoint, *flags[rule], method])
        paths.setdefault(path, {})[method.lower()] = _operation(op, params, operation_id)
        for schema in (op.body, op.response):
            if schema is not None:
                _collect(schema, found)
    body_names = {_name(op.body) for *_, op in operations(app) if op.body is not None}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "collector",
            "version": "1",
            "description": (__doc__ or "").strip().splitlines()[0],
        },
        "paths": paths,
        "components": {
            "schemas": {
                name: _component(schema, dump=name not in body_names)
                for name, schema in sorted(found.items())
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
@operation("This document", "public")
def openapi_json() -> Response:
    """Serve the OpenAPI document."""
    if "collector.openapi" not in current_app.extensions:
        current_app.extensions["collector.openapi"] = document(current_app)
    return jsonify(current_app.extensions["collector.openapi"])
