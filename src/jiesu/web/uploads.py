"""Photo uploads: the type comes from the bytes (JPEG, PNG, WebP magic), never from the browser; what is
stored is the photo re-encoded from its pixels, without its metadata (EXIF with GPS position, camera and
times, XMP, comments, text chunks)."""

from __future__ import annotations

import asyncio
import io
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar.datastructures import UploadFile
from PIL import Image, ImageOps

from jiesu.web.i18n import N_

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000  # a 5 MB file that unpacks to more is a decompression bomb, not a photo
_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
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
    clean = await asyncio.to_thread(without_metadata, data, kind[1])
    return Photo(data=clean, content_type=kind[0], extension=kind[1])


def without_metadata(data: bytes, extension: str) -> bytes:
    """The photo re-encoded in its own format from its pixels alone, turned upright first as its EXIF
    orientation says; UploadRejected when the bytes are not an image Pillow can read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PHOTO_PIXELS:
                    raise UploadRejected(N_("The photo could not be read."))
                image.load()
                upright = ImageOps.exif_transpose(image)
                clean = upright.copy()
    except UploadRejected:
        raise
    except Exception as exc:  # Pillow raises many kinds for a damaged or hostile file
        raise UploadRejected(N_("The photo could not be read.")) from exc
    clean.info = {}  # JPEG comments are taken from here when saving; nothing else is wanted either
    options: dict[str, Any] = {}
    if extension == "jpg":
        if clean.mode not in ("RGB", "L", "CMYK"):
            clean = clean.convert("RGB")
        options["quality"] = 90
    elif extension == "webp":
        options["quality"] = 90
    out = io.BytesIO()
    clean.save(out, format=_FORMATS[extension], **options)
    return out.getvalue()


def upload_dir(var_dir: Path) -> Path:
    """Where the photos' files are kept."""
    return var_dir / "uploads"


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
