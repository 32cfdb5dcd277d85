"""Sample photos for the sandbox: PNGs drawn in pure Python (no imaging library needed).

The bundled files in `bot/sandbox/photos/` come from `python -m bot.sandbox.samples`. An album
may ask for more photos than are bundled; extra ones are drawn on the fly in other colours, because
identical bytes would be the same Telegram file and could be counted once as evidence.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent / "photos"
Pixel = tuple[int, int, int]
Painter = Callable[[int, int], Pixel]
WIDTH, HEIGHT = 160, 120


def png(width: int, height: int, paint: Painter) -> bytes:
    """A valid 8-bit RGB PNG; `paint(x, y)` gives each pixel's colour."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "None" for every scanline
        for x in range(width):
            rows.extend(paint(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + (
        _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def cracked_screen(tint: int = 0) -> Painter:
    """A dark phone screen with a diagonal crack: the typical "arrived damaged" photo."""

    def paint(x: int, y: int) -> Pixel:
        if x < 20 or x >= WIDTH - 20 or y < 8 or y >= HEIGHT - 8:
            return (200, 200, (205 + tint) % 256)  # the phone's frame
        on_crack = abs((y - 10) - (x - 30) * 0.8) < 1.5 or abs((y - 60) + (x - 80) * 0.6) < 1.2
        return (235, 235, 235) if on_crack else (20, (30 + tint) % 256, 60)

    return paint


def torn_fabric(tint: int = 0) -> Painter:
    """Navy fabric with a light tear across it."""

    def paint(x: int, y: int) -> Pixel:
        tear = abs(y - HEIGHT // 2 - (x % 24 - 12) // 3) < 3 and 30 < x < 130
        if tear:
            return (230, 220, 200)
        weave = 12 if (x // 4 + y // 4) % 2 else 0
        return ((25 + weave + tint) % 256, 35 + weave, 90 + weave)

    return paint


def parcel(tint: int = 0) -> Painter:
    """A brown parcel with a crushed corner."""

    def paint(x: int, y: int) -> Pixel:
        if x + y < 50:
            return (240, 240, (240 - tint) % 256)  # background where the corner is missing
        tape = abs(x - WIDTH // 2) < 6
        return (190, 170, 120) if tape else ((160 + tint) % 256, 115, 60)

    return paint


DESIGNS: tuple[tuple[str, Callable[[int], Painter]], ...] = (
    ("cracked-screen.png", cracked_screen),
    ("torn-fabric.png", torn_fabric),
    ("crushed-parcel.png", parcel),
)


def bundled() -> list[bytes]:
    """The bundled sample photos; drawn afresh if the files are missing (e.g. a wheel install)."""
    photos = []
    for name, design in DESIGNS:
        path = SAMPLES_DIR / name
        photos.append(path.read_bytes() if path.is_file() else png(WIDTH, HEIGHT, design(0)))
    return photos


def photos(count: int) -> list[bytes]:
    """`count` different photos: the bundled ones first, then recoloured variants."""
    result = bundled()[:count]
    variant = 1
    while len(result) < count:
        _, design = DESIGNS[(len(result)) % len(DESIGNS)]
        result.append(png(WIDTH, HEIGHT, design(variant * 37)))
        variant += 1
    return result


def write_bundled(directory: Path = SAMPLES_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, design in DESIGNS:
        path = directory / name
        path.write_bytes(png(WIDTH, HEIGHT, design(0)))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_bundled(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES_DIR):
        print(written_path)
