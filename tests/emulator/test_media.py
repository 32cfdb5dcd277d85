"""Files both ways: user photos downloaded by the bot, bot uploads, albums, copy/forward."""

import io

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InputMediaDocument, InputMediaPhoto, InputMediaVideo

from bot.emulator import Emulator


@pytest.fixture
async def user(emu: Emulator):
    customer = emu.create_user()
    await emu.user_sends_text(customer, "hi")
    return customer


async def test_user_photo_round_trips_through_get_file(bot: Bot, emu: Emulator, user):
    data = b"\xff\xd8\xff broken screen photo"
    await emu.user_sends_photo(user, data, caption="damage")
    updates = await bot.get_updates()
    message = updates[-1].message
    assert message.caption == "damage"
    assert len(message.photo) >= 3
    assert message.photo[-1].width > message.photo[0].width
    file = await bot.get_file(message.photo[-1].file_id)
    assert file.file_size == len(data)
    buffer = io.BytesIO()
    await bot.download_file(file.file_path, buffer)
    assert buffer.getvalue() == data


async def test_user_album_shares_a_media_group_id(bot: Bot, emu: Emulator, user):
    sent = await emu.user_sends_album(user, [b"1", b"2", b"3"], caption="all sides")
    assert len({u["message"]["media_group_id"] for u in sent}) == 1
    updates = (await bot.get_updates())[-3:]
    assert [u.message.caption for u in updates] == ["all sides", None, None]


async def test_bot_uploads_a_photo_and_reuses_its_file_id(bot: Bot, emu: Emulator, user):
    sent = await bot.send_photo(
        user.id, BufferedInputFile(b"label", "label.jpg"), caption="<i>print</i>", parse_mode="HTML"
    )
    assert sent.caption == "print" and sent.caption_entities[0].type == "italic"
    again = await bot.send_photo(user.id, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    observed = emu.last_message(user)
    assert observed.media_kind == "photo" and observed.method == "sendPhoto"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(user.id, "no-such-file-id")
    file = await bot.get_file(sent.photo[0].file_id)
    buffer = io.BytesIO()
    await bot.download_file(file.file_path, buffer)
    assert buffer.getvalue() == b"label"


async def test_documents_and_videos(bot: Bot, emu: Emulator, user):
    doc = await bot.send_document(user.id, BufferedInputFile(b"%PDF-1.7", "label.pdf"))
    assert doc.document.file_name == "label.pdf"
    video = await bot.send_video(user.id, BufferedInputFile(b"mp4", "howto.mp4"))
    assert video.video.duration >= 0
    assert [m.media_kind for m in emu.sent_messages(user)] == ["document", "video"]


async def test_bot_media_group(bot: Bot, emu: Emulator, user):
    media = [
        InputMediaPhoto(media=BufferedInputFile(b"a", "a.jpg"), caption="first"),
        InputMediaVideo(media=BufferedInputFile(b"b", "b.mp4")),
    ]
    messages = await bot.send_media_group(user.id, media)
    assert len(messages) == 2 and messages[0].media_group_id == messages[1].media_group_id
    assert messages[0].caption == "first"
    mixed = [
        InputMediaPhoto(media=BufferedInputFile(b"a", "a.jpg")),
        InputMediaDocument(media=BufferedInputFile(b"b", "b.pdf")),
    ]
    with pytest.raises(TelegramBadRequest, match="can't mix"):
        await bot.send_media_group(user.id, mixed)


async def test_copy_and_forward(bot: Bot, emu: Emulator, user):
    staff = emu.create_group("Staff", is_forum=False)
    photo = await emu.user_sends_photo(user, b"img", caption="receipt")
    message_id = photo["message"]["message_id"]
    copied = await bot.copy_message(staff.id, user.id, message_id)
    assert emu.last_message(staff).message_id == copied.message_id
    assert emu.last_message(staff).text == "receipt"
    forwarded = await bot.forward_message(staff.id, user.id, message_id)
    assert forwarded.forward_origin.sender_user.id == user.id
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(staff.id, user.id, 9999)


async def test_missing_file_download_is_404(bot: Bot, server):
    import aiohttp

    from tests.emulator.conftest import TOKEN

    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.base_url}/file/bot{TOKEN}/photos/nope.jpg") as response,
    ):
        assert response.status == 404
