"""Errors raised by keys/.

::

    KeysError(Exception)
     ├─ ManifestError(KeysError, ValueError)  the submission manifest is unusable; the message
     │                                          says why and is safe to show to a client
     ├─ MissingFile(KeysError)                  a file the manifest names was not supplied (`name`)
     ├─ DecryptionFailed(KeysError)             one fixed message; `stage` ("unwrap" | "payload")
     │                                          and `file` tell operators where, never str()
     ├─ UnsealFailed(KeysError)                 a sealed blob does not open under this key and
     │                                          associated data (wrong master key, tampering)
     └─ KeyImportError(KeysError)               a key or key bundle could not be imported (bad
                                                PEM, wrong passphrase, malformed record); the
                                                message never contains secret material

Caller mistakes (a key of the wrong length, an unsupported RSA size) are plain `ValueError` or
`TypeError`, as in pyca/cryptography.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "DecryptionFailed",
    "KeyImportError",
    "KeysError",
    "ManifestError",
    "MissingFile",
    "UnsealFailed",
]

DecryptionStage = Literal["unwrap", "payload"]


class KeysError(Exception):
    """Base class of every error raised by keys/."""


class ManifestError(KeysError, ValueError):
    """The encrypted-submission manifest is not acceptable."""


class MissingFile(KeysError):
    """A file named in the manifest was not supplied."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the submission is missing a file named in its manifest: {name}")
        self.name = name

    def __reduce__(self) -> tuple[type[MissingFile], tuple[str]]:
        # Keep the attributes across process boundaries (worker pools pickle exceptions).
        return (type(self), (self.name,))


class DecryptionFailed(KeysError):
    """The submission could not be decrypted; the message is fixed on purpose."""

    MESSAGE = "submission could not be decrypted"

    def __init__(self, stage: DecryptionStage, file: str | None = None) -> None:
        super().__init__(self.MESSAGE)
        self.stage: DecryptionStage = stage
        self.file = file

    def __reduce__(self) -> tuple[type[DecryptionFailed], tuple[DecryptionStage, str | None]]:
        return (type(self), (self.stage, self.file))


class UnsealFailed(KeysError):
    """A sealed blob did not open: wrong key, wrong associated data or tampering."""

    MESSAGE = "sealed data could not be opened (wrong master key or damaged data)"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)

    def __reduce__(self) -> tuple[type[UnsealFailed], tuple[()]]:
        return (type(self), ())


class KeyImportError(KeysError):
    """A private key, Central key record or escrow bundle could not be imported."""
