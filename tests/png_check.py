"""A small PNG reader for the screenshot tests (8-bit RGB/RGBA, non-interlaced, as Chromium
writes them): the pixels as a numpy array, to check what a screenshot shows."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def read_png(path: str) -> np.ndarray:
    """The image as an array of shape (height, width, channels), dtype uint8."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:  # None
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum of each channel along the row
            cur = (np.cumsum(line.reshape(width, channels).astype(np.int64), axis=0) & 0xFF).astype(np.uint8).ravel()
        elif kind == 2:  # Up
            cur = line + prev  # uint8 arithmetic wraps, as PNG's
        else:  # Average, Paeth: each byte depends on the one to its left
            cur = _unfilter_row(kind, bytes(line), bytes(prev), channels)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels).astype(np.uint8)


def _unfilter_row(kind: int, line: bytes, prev: bytes, bpp: int) -> np.ndarray:
    cur = bytearray(len(line))
    for x in range(len(line)):
        a = cur[x - bpp] if x >= bpp else 0
        b = prev[x]
        if kind == 3:
            p = (a + b) >> 1
        else:
            c = prev[x - bpp] if x >= bpp else 0
            pa_, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            p = a if pa_ <= pb and pa_ <= pc else (b if pb <= pc else c)
        cur[x] = (line[x] + p) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)
