"""Evidence files attached to cases (Telegram file ids plus our stored copy)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from storage.models import Evidence
from storage.repos.base import Repo, on_postgresql, one_of

_USED = {
    array: select(Evidence.file_unique_id).where(
        one_of(Evidence.__table__.c.file_unique_id, "ids", array=array)
    )
    for array in (False, True)
}


class EvidenceRepo(Repo):
    async def add(
        self,
        case_id: int,
        kind: str,
        file_id: str,
        file_unique_id: str,
        *,
        created_at: datetime,
        media_group_id: str | None = None,
        local_path: str | None = None,
        sha256: str | None = None,
        size_bytes: int | None = None,
        flush: bool = True,
    ) -> Evidence:
        """`flush=False` leaves the INSERT to the next flush (several rows, one statement)."""
        evidence = Evidence(
            case_id=case_id,
            kind=kind,
            file_id=file_id,
            file_unique_id=file_unique_id,
            media_group_id=media_group_id,
            local_path=local_path,
            sha256=sha256,
            size_bytes=size_bytes,
            created_at=created_at,
        )
        self.session.add(evidence)
        if flush:
            await self.session.flush()
        return evidence

    async def add_many(self, case_id: int, files: list[dict[str, Any]], at: datetime) -> None:
        """A new case's files (kind, file_id, file_unique_id, media_group_id, local_path,
        sha256, size_bytes), in one statement."""
        if files:
            keys = ("kind", "file_id", "file_unique_id", "media_group_id", "local_path",
                    "sha256", "size_bytes")  # fmt: skip
            rows = [{k: f.get(k) for k in keys} | {"case_id": case_id, "created_at": at}
                    for f in files]  # fmt: skip
            await self.session.execute(insert(Evidence.__table__), rows)

    async def for_case(self, case_id: int) -> Sequence[Evidence]:
        rows = await self.session.scalars(
            select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id)
        )
        return rows.all()

    async def used_elsewhere(
        self, file_unique_ids: Iterable[str], exclude_case_id: int | None = None
    ) -> set[str]:
        """Which of these files already back another case (re-used photos are suspicious)."""
        ids = list(set(file_unique_ids))
        if not ids:
            return set()
        stmt = _USED[on_postgresql(self.session)]
        if exclude_case_id is not None:
            stmt = stmt.where(Evidence.case_id != exclude_case_id)
        return set(await self.session.scalars(stmt, {"ids": ids}))
