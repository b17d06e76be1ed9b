"""Domain errors, each with a Central-style problem code (status = floor(code)).

CollectorError
 ├─ NotFound            404.1   a project, form, key or submission that is not there
 ├─ Unauthorized        401.2   no usable credentials (a malformed app-user token)
 ├─ Forbidden           403.1   credentials known but not allowed (revoked, expired, unassigned)
 ├─ TooLarge            413.1   a request body over the configured limit
 ├─ InvalidInput        400.x   a request or argument the domain refuses (details say what)
 ├─ Conflict            409.x   the state does not allow it (a second active key, a duplicate)
 ├─ MasterKeyMismatch   500.2   the configured master key is not the one this database uses
 ├─ KeyringError        500.3   a sealed key could not be opened although the master key matched
 └─ ProcessingFailed    500.4   a stored submission could not be decrypted or stored (``reason``)

The ``api`` room renders these as ``{"code", "message", "details"}`` and the CLI as one line.
"""

from __future__ import annotations

from typing import Any


class CollectorError(Exception):
    """Base of every domain error; carries a problem code and safe details."""

    code: float = 500.1
    default_message = "internal error"

    def __init__(self, message: str | None = None, *, code: float | None = None, **details: Any):
        super().__init__(message or self.default_message)
        if code is not None:
            self.code = code
        self.message = message or self.default_message
        self.details = details

    @property
    def status(self) -> int:
        """Return the HTTP status this problem maps to."""
        return int(self.code)


class NotFound(CollectorError):
    code = 404.1
    default_message = "could not find the resource you were looking for"


class Unauthorized(CollectorError):
    code = 401.2
    default_message = "could not authenticate with the provided credentials"


class Forbidden(CollectorError):
    code = 403.1
    default_message = "the authenticated actor does not have rights to do that"


class TooLarge(CollectorError):
    code = 413.1
    default_message = "the request is larger than this server accepts"


class InvalidInput(CollectorError):
    code = 400.1
    default_message = "the request is not valid"


class Conflict(CollectorError):
    code = 409.1
    default_message = "the request conflicts with the current state"


class MasterKeyMismatch(CollectorError):
    code = 500.2
    default_message = (
        "the configured master key does not match this database "
        "(check COLLECTOR_MASTER_KEY, the key file or the passphrase)"
    )


class KeyringError(CollectorError):
    code = 500.3
    default_message = "a sealed key could not be opened"


class ProcessingFailed(CollectorError):
    """A submission failed processing; ``reason`` is its stable reason code."""

    code = 500.4
    default_message = "the submission could not be processed"

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason, reason=reason)
        self.reason = reason
        self.detail = detail
