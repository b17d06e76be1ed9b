"""Kinds of filterable values, and reading a value or a literal as a kind.

A filter compares a property with a literal; both are read as the property's kind (string, int,
number, date, datetime, bool, geo). What cannot be read as that kind is MISMATCH: equal to
nothing and never ordered, so a word compared with a number simply does not match.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from collector.odata.values import js_number


class _Mismatch:
    """A value that cannot be read as the property's kind: equal to nothing, ordered never."""

    def __repr__(self) -> str:
        return "MISMATCH"


MISMATCH = _Mismatch()


def coerce(kind: str, value: Any) -> Any:
    """Read a value as a kind; MISMATCH when it cannot be (None stays None)."""
    if value is None or value is MISMATCH:
        return value
    try:
        return _COERCE[kind](value)
    except (ValueError, TypeError, OverflowError):
        return MISMATCH


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(value)
    return value if isinstance(value, int | float) else float(value)


def _to_int(value: Any) -> int:
    number = _to_number(value)
    if isinstance(number, float) and not number.is_integer():
        raise ValueError(value)
    return int(number)


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise TypeError(value)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), UTC)
    elif isinstance(value, str) and len(value) == 10:
        moment = datetime.combine(date.fromisoformat(value), time(), UTC)
    else:
        moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}[str(value).lower()]


def _to_geo(value: Any) -> Any:
    raise TypeError(value)


_COERCE: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "int": _to_int,
    "number": _to_number,
    "date": _to_date,
    "datetime": to_datetime,
    "bool": _to_bool,
    "geo": _to_geo,
}
