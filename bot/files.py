"""Evidence files: fetched with getFile into EVIDENCE_DIR under a name nobody can guess.

Only what the conversation will keep is downloaded (it says how many files it can take right
now), the download is cut off at the policy's size limit whatever the update declared, and
the files are readable by the bot's own user only (0600 in a 0700 folder, whatever the umask).
What a turn did not keep is deleted again (`discard`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from dialogs.events import Event, MediaFile

log = logging.getLogger(__name__)
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
              "video/mp4": ".mp4", "image/heic": ".heic"}  # fmt: skip
FOLDER_MODE, FILE_MODE = 0o700, 0o600
DOWNLOAD_TIMEOUT = 60


class TooLarge(Exception):
    """The file grew past the limit while downloading."""


class _Capped(io.BytesIO):
    """A download target that refuses to hold more than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.limit:
            raise TooLarge
        return super().write(data)


class EvidenceStore:
    def __init__(self, bot: Bot, directory: Path, max_bytes: int) -> None:
        self.bot = bot
        self.directory = directory
        self.max_bytes = max_bytes

    @property
    def limit_mb(self) -> int:
        return max(1, self.max_bytes // (1024 * 1024))

    async def fetch(self, event: Event, slots: int) -> Event:
        """The event with at most `slots` of its files stored locally (path, sha256, size);
        the rest keep only their Telegram ids. Refused as too large if one of the files to
        store is over the limit, declared or measured."""
        if event.kind != "media" or slots <= 0:
            return event
        wanted = event.media[:slots]
        if any((m.size_bytes or 0) > self.max_bytes for m in wanted):
            return self._too_large(event)
        stored: list[MediaFile] = []
        try:
            for media in wanted:
                stored.append(await self._download(media))
        except TooLarge:
            self.discard(m.local_path for m in stored)
            return self._too_large(event)
        return replace(event, media=(*stored, *event.media[slots:]))

    def _too_large(self, event: Event) -> Event:
        return replace(event, refused="too_large", refused_values={"limit_mb": self.limit_mb})

    async def _download(self, media: MediaFile) -> MediaFile:
        target = _Capped(self.max_bytes)
        try:
            info = await self.bot.get_file(media.file_id)
            if info.file_path is None:
                return media
            await self.bot.download_file(info.file_path, target, timeout=DOWNLOAD_TIMEOUT)
        except (TelegramAPIError, aiohttp.ClientError, TimeoutError) as exc:
            # The file id is kept either way: the case can still show it; only our copy is missing.
            log.warning("could not download %s: %s", media.file_id, exc)
            return media
        name = secrets.token_hex(16) + _extension(media, info.file_path)
        data = target.getvalue()
        path, digest = await asyncio.to_thread(_store, self.directory, name, data)
        return replace(media, local_path=str(path), sha256=digest, size_bytes=len(data))

    def discard(self, paths: Iterable[str | None]) -> None:
        """Delete stored files nobody keeps (a refused album's extra photos, a cancelled draft)."""
        for path in paths:
            if path:
                try:
                    Path(path).unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("could not delete %s: %s", path, exc)


def _store(directory: Path, name: str, data: bytes) -> tuple[Path, str]:
    """Write the file, readable by this user only; its path and sha256."""
    directory.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(directory, FOLDER_MODE)  # mkdir's mode is cut by the umask, and skipped if it exists
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    return path, hashlib.sha256(data).hexdigest()


def _extension(media: MediaFile, file_path: str) -> str:
    suffix = Path(file_path).suffix.lower()
    if suffix and len(suffix) <= 6 and suffix[1:].isalnum():
        return suffix
    return EXTENSIONS.get(media.mime_type or "", ".bin")
