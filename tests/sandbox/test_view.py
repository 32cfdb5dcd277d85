"""Bot messages as terminal text, and the sample photos."""

from __future__ import annotations

import struct
import zlib

from bot.emulator.state import SentMessage
from bot.sandbox.samples import bundled, photos
from bot.sandbox.view import Button, Style, render_message, styled_text, toast

PLAIN = Style(ansi=False)
ANSI = Style(ansi=True)


def message(text: str, entities: list[dict] | None = None, **extra: object) -> SentMessage:
    return SentMessage(7, 1, "sendMessage", {}, text, entities or [], extra.pop("markup", None),
                       **extra)  # type: ignore[arg-type]  # fmt: skip


def test_bold_is_ansi_on_a_terminal_and_plain_otherwise() -> None:
    entities = [{"type": "bold", "offset": 3, "length": 4}]
    assert styled_text("今天 售后单号 ok", entities, PLAIN) == "今天 售后单号 ok"
    assert styled_text("今天 售后单号 ok", entities, ANSI) == "今天 \x1b[1m售后单号\x1b[0m ok"


def test_offsets_are_utf16_so_emoji_before_an_entity_do_not_shift_it() -> None:
    text = "📱 AS-1 done"
    entities = [{"type": "code", "offset": 3, "length": 4}]  # 📱 is two UTF-16 units
    assert styled_text(text, entities, ANSI) == "📱 \x1b[36mAS-1\x1b[0m done"


def test_nested_entities_and_links() -> None:
    entities = [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
        {"type": "text_link", "offset": 10, "length": 4, "url": "https://x.example/p"},
    ]
    text = "abcd efgh link"
    assert styled_text(text, entities, PLAIN) == "abcd efgh link (https://x.example/p)"
    assert styled_text(text, entities, ANSI) == (
        "\x1b[1mabcd \x1b[0m\x1b[1;3mefgh\x1b[0m \x1b[4mlink\x1b[0m (https://x.example/p)"
    )


def test_buttons_numbered_only_where_pressable_and_keyboards_shown() -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"},
                                   {"text": "B", "callback_data": "b"}],
                                  [{"text": "Web", "url": "https://e.example"}]]}  # fmt: skip
    sent = message("line one\nline two", markup=markup)
    numbered = [Button(sent, "a", "A"), Button(sent, "b", "B")]
    assert render_message(sent, PLAIN, numbered=numbered) == [
        "🤖 line one",
        "   line two",
        "   [1] A  [2] B",
        "   [↗] Web <https://e.example>",
    ]
    assert render_message(sent, PLAIN)[2] == "   [-] A  [-] B"
    keyboard = {"keyboard": [[{"text": "📱 Share", "request_contact": True}], [{"text": "No"}]]}
    shown = render_message(message("Hi", reply_keyboard=keyboard), PLAIN, edited=True)
    assert shown == ["🤖 (edited) Hi", "   ⌨ keyboard: [📱 Share] → type :contact  [No]"]


def test_toasts() -> None:
    assert toast(None) is None
    assert toast({"text": ""}) is None
    assert toast({"text": "Saved"}) == "   💬 Saved"
    assert toast({"text": "Too old", "show_alert": True}) == "   ⚠ alert: Too old"


def test_sample_photos_are_valid_and_distinct_pngs() -> None:
    images = photos(5)
    assert len(set(images)) == 5
    assert images[:3] == bundled()
    for data in images:
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        length, kind = struct.unpack(">I4s", data[8:16])
        width, height = struct.unpack(">II", data[16:24])
        assert (kind, width, height) == (b"IHDR", 160, 120)
        crc = struct.unpack(">I", data[16 + length : 20 + length])[0]
        assert crc == zlib.crc32(data[12 : 16 + length])
