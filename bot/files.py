"""Evidence files: fetched with getFile into EVIDENCE_DIR under a name nobody can guess."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import replace
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from dialogs.events import Event, MediaFile

log = logging.getLogger(__name__)
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
              "video/mp4": ".mp4", "image/heic": ".heic"}  # fmt: skip


class EvidenceStore:
    def __init__(self, bot: Bot, directory: Path, max_bytes: int) -> None:
        self.bot = bot
        self.directory = directory
        self.max_bytes = max_bytes

    async def fetch(self, event: Event) -> Event:
        """The event with each file stored locally (path, sha256, size), or refused as too large."""
        if event.kind != "media":
            return event
        if any((m.size_bytes or 0) > self.max_bytes for m in event.media):
            return replace(event, refused="too_large", refused_values={"limit_mb": self.limit_mb})
        stored = [await self._download(m) for m in event.media]
        return replace(event, media=tuple(stored))

    @property
    def limit_mb(self) -> int:
        return max(1, self.max_bytes // (1024 * 1024))

    async def _download(self, media: MediaFile) -> MediaFile:
        try:
            info = await self.bot.get_file(media.file_id)
            if info.file_path is None:
                return media
            target = self.directory / (secrets.token_hex(16) + _extension(media, info.file_path))
            # Into memory (Telegram serves bots files of at most 20 MB), then hashed and
            # written in one go off the event loop: one thread hop instead of one per chunk.
            content = await self.bot.download_file(info.file_path)
        except TelegramAPIError as exc:
            # The file id is kept either way: the case can still show it; only our copy is missing.
            log.warning("could not download %s: %s", media.file_id, exc)
            return media
        data = content.getvalue() if content is not None else b""
        digest = await asyncio.to_thread(_store, target, data)
        return replace(media, local_path=str(target), sha256=digest, size_bytes=len(data))


def _store(path: Path, data: bytes) -> str:
    """Write the file (folder made if needed); its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _extension(media: MediaFile, file_path: str) -> str:
    suffix = Path(file_path).suffix.lower()
    if suffix and len(suffix) <= 6:
        return suffix
    return EXTENSIONS.get(media.mime_type or "", ".bin")
