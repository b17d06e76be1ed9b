"""What an encrypted form's ``<submission>`` element carries: the RSA public key and the URL.

ODK Collect reads ``base64RsaPublicKey`` as base64 DER SubjectPublicKeyInfo (the body of a
``BEGIN PUBLIC KEY`` PEM) on one line; a PKCS#1 ``BEGIN RSA PUBLIC KEY`` body does not work.
This room may not import the crypto core, so the key is parsed here just far enough to be
sure of its shape: DER structure, the rsaEncryption algorithm and the modulus size.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from forms.errors import ErrorCode, Finding, FormError

RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1"
MIN_RSA_BITS = 2048
MAX_URL_LENGTH = 2048
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


@dataclass(frozen=True)
class PublicKey:
    """An RSA public key as a form carries it."""

    base64: str
    bits: int


def parse_public_key(key: str | bytes) -> PublicKey:
    """Parse a PEM or base64 DER RSA public key into its one-line form attribute."""
    data = key.encode("utf-8", "replace") if isinstance(key, str) else bytes(key)
    if not data.strip():
        raise FormError(ErrorCode.ENC_004, detail="it is empty")
    if b"-----BEGIN" in data:
        der = _der_from_pem(data)
    elif data.lstrip()[:1] == b"\x30":
        der = data.strip()
    else:
        der = _b64decode(data)
    bits = _check_spki(der)
    return PublicKey(base64.b64encode(der).decode("ascii"), bits)


def _der_from_pem(data: bytes) -> bytes:
    labels = [m.group(1).decode("ascii") for m in _PEM_LABEL.finditer(data)]
    private = [label for label in labels if "PRIVATE" in label]
    if private:
        raise FormError(ErrorCode.ENC_006, label=f"BEGIN {private[0]}")
    if "RSA PUBLIC KEY" in labels:
        raise FormError(ErrorCode.ENC_005)
    block = _PEM_BLOCK.search(data)
    if block is None:
        raise FormError(ErrorCode.ENC_004, detail="the PEM block has no matching END line")
    label = block.group(1).decode("ascii")
    if label != "PUBLIC KEY":
        raise FormError(ErrorCode.ENC_004, detail=f"a PEM '{label}' block is not a public key")
    return _b64decode(block.group(2))


def _b64decode(data: bytes) -> bytes:
    compact = b"".join(data.split())
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise FormError(ErrorCode.ENC_004, detail="it is neither PEM nor base64") from None
    if not der:
        raise FormError(ErrorCode.ENC_004, detail="it is empty")
    return der


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read one DER element at pos: return its tag and the bounds of its content."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if not 1 <= count <= 4 or pos + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found = []
    while start < end:
        element = _tlv(data, start)
        found.append(element)
        start = element[2]
    if start != end:
        raise ValueError("trailing bytes")
    return found


def _oid(content: bytes) -> str:
    parts = [content[0] // 40, content[0] % 40]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _check_spki(der: bytes) -> int:
    try:
        tag, start, end = _tlv(der, 0)
        if tag != 0x30 or end != len(der):
            raise ValueError("not one DER SEQUENCE")
        parts = _children(der, start, end)
        tags = [p[0] for p in parts]
        if tags == [0x02, 0x02]:
            raise FormError(ErrorCode.ENC_005)
        if tags[:3] == [0x02, 0x30, 0x04] or (len(tags) >= 9 and set(tags) == {0x02}):
            raise FormError(ErrorCode.ENC_006, label="DER private key")
        if [p[0] for p in parts] != [0x30, 0x03]:
            raise ValueError("not a SubjectPublicKeyInfo")
        algorithm = _children(der, parts[0][1], parts[0][2])
        if not algorithm or algorithm[0][0] != 0x06:
            raise ValueError("no algorithm identifier")
        oid = _oid(der[algorithm[0][1] : algorithm[0][2]])
        if oid != RSA_ENCRYPTION_OID:
            raise FormError(ErrorCode.ENC_010, oid=oid)
        return _rsa_bits(der, parts[1][1], parts[1][2])
    except (ValueError, IndexError) as exc:
        raise FormError(ErrorCode.ENC_004, detail=f"the DER is malformed ({exc})") from None


def _rsa_bits(der: bytes, start: int, end: int) -> int:
    if der[start] != 0:
        raise ValueError("bit string with unused bits")
    key = der[start + 1 : end]
    tag, inner_start, inner_end = _tlv(key, 0)
    if tag != 0x30 or inner_end != len(key):
        raise ValueError("no RSAPublicKey")
    numbers = _children(key, inner_start, inner_end)
    if [n[0] for n in numbers] != [0x02, 0x02]:
        raise ValueError("no modulus and exponent")
    modulus = int.from_bytes(key[numbers[0][1] : numbers[0][2]], "big")
    bits = modulus.bit_length()
    if bits < MIN_RSA_BITS:
        raise FormError(ErrorCode.ENC_009, bits=bits)
    return bits


def check_submission_url(url: str) -> list[Finding]:
    """Check a submission URL: an error when unusable, a warning when it is plain http."""
    problem = _url_problem(url)
    if problem:
        return [Finding.of(ErrorCode.ENC_007, value=url, detail=problem)]
    if urlsplit(url).scheme == "http":
        return [Finding.of(ErrorCode.ENC_008, value=url)]
    return []


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_URL_LENGTH:
        return f"it is longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x20 or c in "<>\"'" for c in url):
        return "it contains spaces, quotes or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading the port validates it.
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "it must start with https://"
    if not parts.hostname:
        return "it has no host"
    if parts.username or parts.password:
        return "it must not carry a user name or password"
    if parts.fragment:
        return "it must not have a #fragment"
    return None
