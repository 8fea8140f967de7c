"""Free disk space: a write is refused (507) when the file system under var/ (the SQLite file, the photos)
has less than JIESU_MIN_FREE_DISK_MB free, so a full disk ends in a clear answer, not a half-written case."""

from __future__ import annotations

import shutil
from pathlib import Path

from jiesu.errors import InsufficientStorage

MB = 1024 * 1024


def free_bytes(path: Path) -> int:
    """Free bytes on the file system of ``path`` (or of its nearest existing parent)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(Path.cwd()).free


def check_free_space(var_dir: Path, floor_mb: int) -> None:
    """Raise InsufficientStorage when less than ``floor_mb`` MB are free under ``var_dir`` (0: no check)."""
    if floor_mb <= 0:
        return
    free = free_bytes(Path(var_dir))
    if free < floor_mb * MB:
        raise InsufficientStorage(
            f"storage: the server is short of disk space ({free // MB} MB free, {floor_mb} MB needed); "
            "nothing was saved, please try again later"
        )
