"""Reproductions of two Enketo encryptor bugs, so their submissions can be read and explained.

Both are documented, with real vectors, in ../shared/vectors/enketo/PROVENANCE.md:

- The IV quirk (unfixed as of Enketo 7.6.4): the IV seed is a JavaScript number array, so a
  byte incremented past 255 keeps counting, and node-forge packs four such numbers into a 32-bit
  word with shifts and XOR. The overflow bit lands in the low bit of the previous IV byte of the
  same word, and stays there for every later file of the submission.
- The UTF-16 MD5 (Enketo <= 7.5.x): the XML's MD5 in the signature was taken over the JavaScript
  string, packed by node-forge as code units XORed into overlapping bytes, not over UTF-8.
"""

from __future__ import annotations

import hashlib

__all__ = ["enketo_iv", "legacy_utf16_md5_hex", "seed_counts", "spec_iv", "spec_ivs"]

IV_SIZE = 16


def seed_counts(index: int) -> list[int]:
    """Return how often each seed byte has been incremented for the file at `index`."""
    return [(index - p) // IV_SIZE + 1 if p <= index else 0 for p in range(IV_SIZE)]


def spec_iv(seed: bytes, index: int) -> bytes:
    """Return the IV of the file at `index` as ODK Collect computes it (bytes wrap mod 256)."""
    return bytes((s + c) & 0xFF for s, c in zip(seed, seed_counts(index), strict=True))


def spec_ivs(seed: bytes, count: int) -> list[bytes]:
    """Return the IVs of files 0..count-1 (the same as spec_iv, in one pass)."""
    iv = bytearray(seed)
    ivs = []
    for k in range(count):
        iv[k % IV_SIZE] = (iv[k % IV_SIZE] + 1) & 0xFF
        ivs.append(bytes(iv))
    return ivs


def enketo_iv(seed: bytes, index: int) -> bytes:
    """Return the IV Enketo really uses for the file at `index` (see the module docstring)."""
    values = [s + c for s, c in zip(seed, seed_counts(index), strict=True)]
    iv = bytearray(v & 0xFF for v in values)
    for p, value in enumerate(values):
        # node-forge builds each word as c0<<24 ^ c1<<16 ^ c2<<8 ^ c3, truncated to 32 bits:
        # the bits of c_p above 0xFF fall into the bytes before it in the same word.
        shift = 1
        while value >> (8 * shift) and p - shift >= p - p % 4:
            iv[p - shift] ^= (value >> (8 * shift)) & 0xFF
            shift += 1
    return bytes(iv)


def legacy_utf16_md5_hex(data: bytes) -> str | None:
    """Return the MD5 Enketo <= 7.5.x put in its signature for this XML, or None if unknown."""
    try:
        raw = data.decode("utf-8").encode("utf-16-le")
    except UnicodeDecodeError:
        return None
    units = [raw[i] | raw[i + 1] << 8 for i in range(0, len(raw), 2)]
    packed = bytearray(len(units) + 1)
    for j, unit in enumerate(units):
        packed[j] ^= unit & 0xFF
        if j % 4 != 3:
            packed[j + 1] ^= unit >> 8
    if packed[-1]:
        # The last code unit's high byte would spill into MD5's own padding, which hashlib
        # cannot reproduce; an XML document always ends in ASCII, so this never happens.
        return None
    return hashlib.md5(bytes(packed[:-1])).hexdigest()
