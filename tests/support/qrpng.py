"""Read the module grid back out of a QR code PNG, so tests check the image, not our word.

Only what segno writes is supported: non-interlaced greyscale or palette PNGs of bit depth 1
to 8. The grid is sampled at the centre of each module; dark is "differs from the quiet zone".
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunks(data: bytes) -> dict[bytes, bytes]:
    assert data.startswith(SIGNATURE), "not a PNG"
    chunks: dict[bytes, bytes] = {}
    pos = len(SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks[kind] = chunks.get(kind, b"") + data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return chunks


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, stride: int, height: int) -> list[bytes]:
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - 1] if x else 0
            up, corner = previous[x], previous[x - 1] if x else 0
            predictor = (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind]
            line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = bytes(line)
    return rows


def pixels(path: Path) -> list[list[int]]:
    """Return the PNG's pixel values (sample indices), row by row."""
    chunks = _chunks(path.read_bytes())
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    if colour not in (0, 3) or depth > 8 or interlace:
        raise ValueError("unsupported PNG layout")
    stride = (width * depth + 7) // 8
    rows = _unfilter(zlib.decompress(chunks[b"IDAT"]), stride, height)
    mask = (1 << depth) - 1
    return [
        [(row[(x * depth) // 8] >> (8 - depth - (x * depth) % 8)) & mask for x in range(width)]
        for row in rows
    ]


def modules(path: Path, scale: int, border: int) -> list[list[bool]]:
    """Return the QR code's modules (True = dark) as drawn in the PNG."""
    image = pixels(path)
    light = image[0][0]
    size = len(image) // scale - 2 * border
    centre = scale // 2
    return [
        [
            image[(border + y) * scale + centre][(border + x) * scale + centre] != light
            for x in range(size)
        ]
        for y in range(size)
    ]
