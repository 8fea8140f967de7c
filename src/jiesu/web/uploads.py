"""Photo uploads: the type comes from the bytes (JPEG, PNG, WebP magic), never from the browser."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from litestar.datastructures import UploadFile

from jiesu.web.i18n import N_

MAX_PHOTO_BYTES = 5 * 1024 * 1024
_CHUNK = 64 * 1024
# What save_photo names a file; the only names the photo route will open.
_STORED_NAME = re.compile(r"[0-9a-f]{32}\.(?:jpg|png|webp)")


class UploadRejected(ValueError):
    """The message is a catalogue id, translated where it is shown."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    content_type: str
    extension: str


def sniff_image(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) for JPEG, PNG and WebP; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


async def read_photo(upload: UploadFile | None) -> Photo | None:
    """None when no file was chosen; UploadRejected when it is too large or not a photo."""
    if upload is None or not upload.filename:
        return None
    chunks: list[bytes] = []
    total = 0
    while chunk := await upload.read(_CHUNK):
        total += len(chunk)
        if total > MAX_PHOTO_BYTES:
            raise UploadRejected(N_("The photo is larger than 5 MB."))
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        return None
    kind = sniff_image(data[:16])
    if kind is None:
        raise UploadRejected(N_("Only JPEG, PNG or WebP photos can be attached."))
    return Photo(data=data, content_type=kind[0], extension=kind[1])


def save_photo(upload_dir: Path, photo: Photo) -> Path:
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = upload_dir / f"{secrets.token_hex(16)}.{photo.extension}"
    with path.open("xb") as handle:
        handle.write(photo.data)
    return path


def stored_photo(upload_dir: Path, stored_name: str) -> Path | None:
    """The file for a stored name, or None when the name is not one save_photo makes: a name from the
    database never reaches outside ``upload_dir``, even when the row was tampered with."""
    if not _STORED_NAME.fullmatch(stored_name):
        return None
    path = upload_dir / stored_name
    return path if path.is_file() else None
