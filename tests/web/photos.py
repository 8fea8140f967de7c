"""Small real images made on the spot, for upload tests."""

from __future__ import annotations

import struct
import zlib


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80\x20\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def same_pixels(stored: bytes, sent: bytes) -> bool:
    """The stored photo is the sent one re-encoded without its metadata: the same pixels, other bytes."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(stored)) as a, Image.open(io.BytesIO(sent)) as b:
        return (
            a.format == b.format
            and a.size == b.size
            and a.convert("RGB").tobytes() == b.convert("RGB").tobytes()
        )
