"""Pieces every schema shares: timestamps as Central writes them, problems, ``success``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields

from collector.models import as_utc


def iso(value: datetime | None) -> str | None:
    """Write a stored time as Central does: ISO 8601, UTC, milliseconds, ``Z``."""
    if value is None:
        return None
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Timestamp(fields.DateTime):
    """An ISO 8601 UTC timestamp with milliseconds and ``Z``, as Central answers."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso(value)


class ProblemSchema(Schema):
    """An error: ``code`` (status = floor(code)), a message, and details."""

    code = fields.Float(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class SuccessSchema(Schema):
    """Central's answer to actions that return nothing else."""

    success = fields.Boolean(required=True)
