"""Rendered text -> JSON values of their EDM type: numbers, booleans, GeoJSON or WKT.

The input is what the dataset renderer shows (a pseudonym, a generalised band, an opened or
withheld sensitive value, plain data); only types the EDM declares as non-strings are
converted. A value that does not read as its type becomes null, as it does in Central.
"""

from __future__ import annotations

import math
from typing import Any

JSONValue = Any


def convert(edm: str, text: str | None, *, wkt: bool = False) -> JSONValue:
    """Return the JSON value of rendered text for an EDM type."""
    if text is None or text.strip() == "":
        return None
    if edm == "Edm.Int64":
        return _int(text)
    if edm == "Edm.Decimal":
        return _float(text)
    if edm == "Edm.Boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())
    if edm == "Edm.GeographyPoint":
        return _point(text, wkt)
    if edm == "Edm.GeographyLineString":
        return _line(text, wkt, polygon=False)
    if edm == "Edm.GeographyPolygon":
        return _line(text, wkt, polygon=True)
    return text


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        number = _float(text)
        return int(number) if number is not None and number.is_integer() else None


def _float(text: str) -> float | None:
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def js_number(value: float) -> str:
    """Write a coordinate as JavaScript would (no trailing .0)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _coordinates(text: str) -> tuple[list[float], float | None] | None:
    """Return [lon, lat(, altitude)] and the accuracy of an ODK point "lat lon alt acc"."""
    numbers = [_float(p) for p in text.split()]
    if len(numbers) < 2 or numbers[0] is None or numbers[1] is None:
        return None
    coordinates = [numbers[1], numbers[0]]
    if len(numbers) > 2 and numbers[2] is not None:
        coordinates.append(numbers[2])
    accuracy = numbers[3] if len(numbers) > 3 else None
    return coordinates, accuracy


def _point(text: str, wkt: bool) -> JSONValue:
    found = _coordinates(text)
    if found is None:
        return None
    coordinates, accuracy = found
    if wkt:
        return f"POINT ({' '.join(js_number(c) for c in coordinates)})"
    point: dict[str, Any] = {"type": "Point", "coordinates": coordinates}
    if accuracy is not None:
        point["properties"] = {"accuracy": accuracy}
    return point


def _line(text: str, wkt: bool, *, polygon: bool) -> JSONValue:
    points = [p for p in (_coordinates(part) for part in text.split(";")) if p is not None]
    if not points:
        return None
    coordinates = [c for c, _accuracy in points]
    if wkt:
        body = ",".join(" ".join(js_number(c) for c in point) for point in coordinates)
        return f"POLYGON (({body}))" if polygon else f"LINESTRING ({body})"
    shape: dict[str, Any] = (
        {"type": "Polygon", "coordinates": [coordinates]}
        if polygon
        else {"type": "LineString", "coordinates": coordinates}
    )
    accuracies = [a for _c, a in points]
    if any(a is not None for a in accuracies):
        shape["properties"] = {"accuracies": accuracies}
    return shape
