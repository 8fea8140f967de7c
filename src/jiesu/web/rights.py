"""The photos attached to a case, for residents' rights (jiesu.rights): the pages own them, rows and
files, so their export and erasure hooks live here and jiesu.app registers them with the upload folder.

Erasure deletes the rows in the erasure's transaction and the files once it has committed: a rolled-back
erasure keeps both.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jiesu.case_record import CaseRecord
from jiesu.db import after_commit
from jiesu.privacy import DataSubject
from jiesu.web.tables import Attachment
from jiesu.web.uploads import stored_photo

log = logging.getLogger("jiesu.web.rights")


@dataclass(frozen=True)
class PhotoRights:
    upload_dir: Path

    async def export_photos(self, subject: DataSubject) -> list[dict[str, Any]]:
        """Each photo of the subject's cases with its bytes (base64); a file gone missing has none."""
        if not subject.case_ids:
            return []
        rows = (
            await Attachment.select()
            .where(Attachment.case_id.is_in(subject.case_ids))
            .order_by(Attachment.id)
        )
        exported = []
        for row in rows:
            path = stored_photo(self.upload_dir, row["stored_name"])
            data = base64.b64encode(path.read_bytes()).decode() if path else None
            exported.append(
                {
                    "id": row["id"],
                    "case_id": row["case_id"],
                    "content_type": row["content_type"],
                    "size": row["size"],
                    "created_at": row["created_at"],
                    "data_base64": data,
                }
            )
        return exported

    async def erase_photos(self, case: CaseRecord) -> None:
        rows = await Attachment.select(Attachment.stored_name).where(Attachment.case_id == case.id)
        if not rows:
            return
        await Attachment.delete().where(Attachment.case_id == case.id)
        names = [row["stored_name"] for row in rows]

        async def remove_files() -> None:
            for name in names:
                path = stored_photo(self.upload_dir, name)
                if path is None:
                    continue
                try:
                    path.unlink()
                except OSError:
                    log.exception("an erased photo's file could not be removed")

        after_commit(remove_files)
