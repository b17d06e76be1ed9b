"""Escrow bundles: private keys exported under a passphrase, for offline decryption.

A bundle is JSON text (version 1)::

    {"format": "collector-escrow-bundle", "version": 1,
     "kdf": {"name": "argon2id", "memory_cost_kib": ..., "iterations": ..., "lanes": ...,
             "salt": "<base64>"},
     "sealed": "<base64 of keys.seal output>"}

The sealed payload is JSON ``{"entries": [{project_id, generation, state, private_key_pkcs8}]}``
sealed with AES-256-GCM under Argon2id(passphrase, salt); the canonical JSON of the header
(everything but "sealed") is the associated data, so no field of it can be altered unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keys._hazmat import (
    RSAPrivateKey,
    UnsupportedAlgorithm,
    load_der_private_key,
    private_key_pkcs8_der,
)
from keys._keyio import require_rsa_private_key
from keys.errors import KeyImportError, UnsealFailed
from keys.kek import DEFAULT_KDF, KDFParams, kek_from_passphrase, new_salt
from keys.seal import seal, unseal

__all__ = [
    "ESCROW_FORMAT",
    "ESCROW_VERSION",
    "EscrowEntry",
    "export_escrow_bundle",
    "import_escrow_bundle",
]

ESCROW_FORMAT = "collector-escrow-bundle"
ESCROW_VERSION = 1
# A bundle may come from anywhere: refuse KDF costs that would exhaust this machine.
_MAX_MEMORY_KIB = 4 * 1024 * 1024
_MAX_ITERATIONS = 64
_MAX_LANES = 64
_MAX_BUNDLE = 64 * 1024 * 1024


@dataclass(frozen=True)
class EscrowEntry:
    """One key generation of one project, as carried in an escrow bundle."""

    project_id: int
    generation: int
    private_key: RSAPrivateKey = field(repr=False)
    state: str = "active"


def _header(params: KDFParams, salt: bytes) -> dict[str, Any]:
    return {
        "format": ESCROW_FORMAT,
        "version": ESCROW_VERSION,
        "kdf": {
            "name": "argon2id",
            "memory_cost_kib": params.memory_cost_kib,
            "iterations": params.iterations,
            "lanes": params.lanes,
            "salt": base64.b64encode(salt).decode("ascii"),
        },
    }


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def export_escrow_bundle(
    entries: Sequence[EscrowEntry], passphrase: str, *, kdf_params: KDFParams | None = None
) -> bytes:
    """Seal private keys under a passphrase into a versioned JSON escrow bundle."""
    params = kdf_params or DEFAULT_KDF
    salt = new_salt()
    header = _header(params, salt)
    payload = {
        "entries": [
            {
                "project_id": entry.project_id,
                "generation": entry.generation,
                "state": entry.state,
                "private_key_pkcs8": base64.b64encode(
                    private_key_pkcs8_der(entry.private_key)
                ).decode("ascii"),
            }
            for entry in entries
        ]
    }
    kek = kek_from_passphrase(passphrase, salt, params)
    sealed = seal(kek, _canonical(payload), _canonical(header))
    bundle = {**header, "sealed": base64.b64encode(sealed).decode("ascii")}
    return (json.dumps(bundle, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return base64.b64decode(value, validate=True)


def _read_header(bundle: Mapping[str, Any]) -> tuple[KDFParams, bytes, bytes]:
    if bundle.get("format") != ESCROW_FORMAT:
        raise KeyImportError("not a collector escrow bundle")
    if bundle.get("version") != ESCROW_VERSION:
        raise KeyImportError("unsupported escrow bundle version")
    kdf = bundle.get("kdf")
    if not isinstance(kdf, Mapping) or kdf.get("name") != "argon2id":
        raise KeyImportError("the escrow bundle names an unknown key derivation")
    try:
        params = KDFParams(kdf["memory_cost_kib"], kdf["iterations"], kdf["lanes"])
        salt, sealed = _b64(kdf["salt"]), _b64(bundle["sealed"])
    except (KeyError, ValueError, binascii.Error):
        raise KeyImportError("the escrow bundle is malformed") from None
    if (
        params.memory_cost_kib > _MAX_MEMORY_KIB
        or params.iterations > _MAX_ITERATIONS
        or params.lanes > _MAX_LANES
        or len(salt) < 8
    ):
        raise KeyImportError("the escrow bundle's key-derivation settings are out of range")
    return params, salt, sealed


def _entry(item: Any) -> EscrowEntry:
    try:
        der = _b64(item["private_key_pkcs8"])
        project_id, generation, state = item["project_id"], item["generation"], item["state"]
        key = load_der_private_key(der)
    except (KeyError, TypeError, ValueError, binascii.Error, UnsupportedAlgorithm):
        raise KeyImportError("the escrow bundle holds a malformed entry") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (project_id, generation)):
        raise KeyImportError("the escrow bundle holds a malformed entry")
    if not isinstance(state, str):
        raise KeyImportError("the escrow bundle holds a malformed entry")
    return EscrowEntry(project_id, generation, require_rsa_private_key(key), state)


def import_escrow_bundle(data: bytes, passphrase: str) -> list[EscrowEntry]:
    """Open an escrow bundle with its passphrase and return its entries."""
    if len(data) > _MAX_BUNDLE:
        raise KeyImportError("the escrow bundle is too large")
    try:
        bundle = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeyImportError("not a collector escrow bundle (not JSON)") from None
    if not isinstance(bundle, dict):
        raise KeyImportError("not a collector escrow bundle")
    params, salt, sealed = _read_header(bundle)
    if not passphrase:
        raise KeyImportError("a passphrase is needed to open the escrow bundle")
    kek = kek_from_passphrase(passphrase, salt, params)
    try:
        payload = json.loads(unseal(kek, sealed, _canonical(_header(params, salt))))
        items = payload["entries"]
    except UnsealFailed:
        raise KeyImportError("wrong passphrase, or the escrow bundle is damaged") from None
    except (ValueError, KeyError, TypeError):
        raise KeyImportError("the escrow bundle is malformed") from None
    if not isinstance(items, list):
        raise KeyImportError("the escrow bundle is malformed")
    return [_entry(item) for item in items]
