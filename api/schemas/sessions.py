"""Logging in and out."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas.common import Timestamp


class LoginSchema(Schema):
    """``POST /v1/sessions``: the password is read, never written back."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class SessionSchema(Schema):
    """A new session: its bearer token (shown once) and when it expires."""

    token = fields.String(required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    expires_at = Timestamp(data_key="expiresAt", required=True)
