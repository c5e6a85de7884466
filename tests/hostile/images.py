"""Image files whose headers declare far more pixels than their bytes hold: a few hundred bytes
that would decode to gigapixels if a decoder believed them."""

from __future__ import annotations

import struct
import zlib


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int) -> bytes:
    """An 8-bit RGBA PNG header of width x height with one deflated row of zeros as its data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    data = zlib.compress(b"\0" * (1 + 4 * min(width, 4096)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int) -> bytes:
    """A baseline JPEG whose frame header (SOF0) declares width x height, with minimal tables."""
    soi = b"\xff\xd8"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\0" + bytes([1] * 64)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    # One DC and one AC Huffman table with a single one-bit code each.
    dht = b"\xff\xc4" + struct.pack(">H", 3 + 16 + 1) + b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    dht += b"\xff\xc4" + struct.pack(">H", 3 + 16 + 1) + b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return soi + app0 + dqt + sof + dht + sos + b"\x00" * 64 + b"\xff\xd9"


def webp(width: int, height: int) -> bytes:
    """An extended WebP (VP8X) whose canvas is width x height, holding a 1x1 lossless image."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    # A 1x1 VP8L bitstream: signature, 14-bit width-1 and height-1 (0), alpha 0, version 0, then a
    # minimal image (all-zero bits decode as one black pixel in most decoders; any reading of it
    # that goes wrong is a decode error, which is fine for a header test).
    lossless = b"\x2f" + b"\0\0\0\0" + b"\0" * 8
    vp8l = b"VP8L" + struct.pack("<I", len(lossless)) + lossless + b"\0" * (len(lossless) % 2)
    body = b"WEBP" + vp8x + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body
