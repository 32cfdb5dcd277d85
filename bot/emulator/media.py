"""Media objects (PhotoSize lists, Document, Video, ...) for files users or the bot send."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.state import FileRecord
from bot.emulator.validation import UploadedFile

# (width, height) of the thumbnails Telegram derives from an uploaded photo, smallest first.
PHOTO_SIZES = ((90, 67), (320, 240), (800, 600), (1280, 960))

_DEFAULT_EXT = {
    "photo": "jpg",
    "video": "mp4",
    "voice": "oga",
    "sticker": "webp",
    "audio": "mp3",
    "animation": "mp4",
    "document": "bin",
}
_DEFAULT_MIME = {"video": "video/mp4", "voice": "audio/ogg", "audio": "audio/mpeg"}


def _ext(file_name: str | None, kind: str) -> str:
    suffix = PurePosixPath(file_name or "").suffix.lstrip(".")
    return suffix or _DEFAULT_EXT.get(kind, "bin")


def _file_fields(record: FileRecord) -> dict[str, Any]:
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": len(record.data),
    }


def photo_sizes(emu: EmulatorCore, data: bytes, sizes: int = 3) -> list[dict[str, Any]]:
    """Store an uploaded photo as several sizes; each size is its own downloadable file."""
    result = []
    for width, height in PHOTO_SIZES[:sizes]:
        record = emu.store_file(data, "photo", extension="jpg", mime_type="image/jpeg")
        result.append({**_file_fields(record), "width": width, "height": height})
    for size in result:
        emu.photo_sets[size["file_id"]] = result
    return result


def media_object(
    emu: EmulatorCore,
    kind: str,
    data: bytes,
    *,
    file_name: str | None = None,
    mime_type: str | None = None,
    duration: int = 5,
    width: int = 640,
    height: int = 480,
) -> Any:
    """The API object for a new file of `kind` (a PhotoSize list for photos)."""
    if kind == "photo":
        return photo_sizes(emu, data)
    mime = mime_type or _DEFAULT_MIME.get(kind)
    record = emu.store_file(
        data, kind, extension=_ext(file_name, kind), mime_type=mime, file_name=file_name
    )
    obj = _file_fields(record)
    if kind in ("document", "audio", "video", "animation") and file_name:
        obj["file_name"] = file_name
    if mime and kind != "sticker":
        obj["mime_type"] = mime
    if kind in ("video", "animation"):
        obj.update(width=width, height=height, duration=duration)
    elif kind in ("voice", "audio"):
        obj["duration"] = duration
    elif kind == "sticker":
        obj.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
    return obj


def media_from_input(emu: EmulatorCore, kind: str, value: UploadedFile | str) -> Any:
    """What the bot passed as photo/document/...: an upload, a known file_id or a URL."""
    if isinstance(value, UploadedFile):
        return media_object(
            emu, kind, value.data, file_name=value.filename, mime_type=value.content_type or None
        )
    if value.startswith(("http://", "https://")):
        # No internet: a URL becomes an empty file that still has an id and a path.
        name = PurePosixPath(value.split("?", 1)[0]).name or None
        return media_object(emu, kind, b"", file_name=name)
    if kind == "photo" and value in emu.photo_sets:
        return emu.photo_sets[value]
    record = emu.file(value)
    if kind == "photo":
        return [{**_file_fields(record), "width": 800, "height": 600}]
    obj = _file_fields(record)
    if record.file_name:
        obj["file_name"] = record.file_name
    if record.mime_type:
        obj["mime_type"] = record.mime_type
    return emu.objects.complete(_TYPE_OF_KIND[kind], obj)


_TYPE_OF_KIND = {
    "document": "Document",
    "video": "Video",
    "audio": "Audio",
    "voice": "Voice",
    "animation": "Animation",
    "sticker": "Sticker",
    "video_note": "VideoNote",
}
