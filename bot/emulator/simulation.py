"""The client side: simulated users and groups acting on the bot.

Each action queues one Update (or a few, for albums) and returns it; update ids increase
(until `reset_update_ids` restarts them). The coroutines yield once so a bot running on the
same loop gets to react.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.html import utf16_len
from bot.emulator.media import media_object
from bot.emulator.state import CallbackRecord, SentMessage, SimChat, SimUser

Update = dict[str, Any]

_FIRST_USER_ID = 500_000_001
_FIRST_GROUP_ID = -1_001_000_000_001


class Simulation(EmulatorCore):
    # --- actors -----------------------------------------------------------------------------

    def create_user(
        self,
        id: int | None = None,
        first_name: str = "Customer",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> SimUser:
        user_id = id if id is not None else _FIRST_USER_ID + len(self.users)
        user = SimUser(user_id, first_name, last_name, username, language_code)
        self.users[user_id] = user
        chat = SimChat(
            user_id, "private", username=username, first_name=first_name, last_name=last_name
        )
        self.chats[user_id] = chat
        if username:
            self.chats_by_username[username.lower()] = chat
        return user

    def create_group(
        self,
        title: str,
        *,
        id: int | None = None,
        is_forum: bool = True,
        username: str | None = None,
        members: Iterable[SimUser] = (),
        owner: SimUser | None = None,
    ) -> SimChat:
        """A supergroup (a forum by default) where the bot is an administrator."""
        group_id = id if id is not None else _FIRST_GROUP_ID - len(self.chats)
        chat = SimChat(group_id, "supergroup", title=title, username=username, is_forum=is_forum)
        chat.known = True
        for user in members:
            chat.member_status[user.id] = "member"
        if owner is not None:
            chat.member_status[owner.id] = "creator"
        self.chats[group_id] = chat
        if username:
            self.chats_by_username[username.lower()] = chat
        return chat

    def _chat_of(self, user: SimUser, chat: SimChat | None) -> SimChat:
        if user.blocked_bot and chat is None:
            raise RuntimeError(f"user {user.id} blocked the bot; call user_unblocks_bot first")
        target = chat or self.chats[user.id]
        target.known = True
        if chat is not None:
            chat.member_status.setdefault(user.id, "member")
        return target

    async def _user_message(
        self,
        user: SimUser,
        content: dict[str, Any],
        *,
        chat: SimChat | None = None,
        thread_id: int | None = None,
        reply_to: SentMessage | int | None = None,
    ) -> Update:
        target = self._chat_of(user, chat)
        if reply_to is not None:
            reply_id = reply_to if isinstance(reply_to, int) else reply_to.message_id
            original = target.messages.get(reply_id)
            if original is not None:
                content = {**content, "reply_to_message": original}
        message = self.new_message(target, user.to_api(), content, thread_id=thread_id)
        update = self.enqueue("message", message)
        await asyncio.sleep(0)
        return update

    # --- messages ---------------------------------------------------------------------------

    async def user_sends_text(
        self,
        user: SimUser,
        text: str,
        *,
        chat: SimChat | None = None,
        thread_id: int | None = None,
        reply_to: SentMessage | int | None = None,
    ) -> Update:
        """A text message; a leading /command gets its bot_command entity."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            length = utf16_len(command)
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return await self._user_message(
            user, content, chat=chat, thread_id=thread_id, reply_to=reply_to
        )

    async def user_edits_text(self, user: SimUser, message: dict[str, Any] | int, text: str,
                              *, chat: SimChat | None = None) -> Update:  # fmt: skip
        """The user edits a text message they sent (the `message` of its update, or its id):
        an `edited_message` update with the new text and an `edit_date`."""
        target = self._chat_of(user, chat)
        message_id = message if isinstance(message, int) else message["message_id"]
        original = target.messages.get(message_id)
        if original is None:
            raise LookupError(f"no message {message_id} in chat {target.id}")
        edited = {**original, "text": text, "edit_date": int(self.clock())}
        edited.pop("entities", None)
        target.messages[message_id] = edited
        update = self.enqueue("edited_message", edited)
        await asyncio.sleep(0)
        return update

    async def member_sends_text(
        self, group: SimChat, user: SimUser, text: str, *, thread_id: int | None = None
    ) -> Update:
        """A group member writes in `group` (in a forum topic when thread_id is given)."""
        return await self.user_sends_text(user, text, chat=group, thread_id=thread_id)

    async def user_sends_contact(
        self,
        user: SimUser,
        phone_number: str,
        user_id: int | None = None,
        *,
        first_name: str | None = None,
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> Update:
        """A shared contact; `user_id` defaults to the sender's own (pass another to forge)."""
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or user.first_name,
            "user_id": user.id if user_id is None else user_id,
        }
        if user.last_name and first_name is None:
            contact["last_name"] = user.last_name
        return await self._user_message(user, {"contact": contact}, chat=chat, thread_id=thread_id)

    async def user_sends_photo(
        self,
        user: SimUser,
        data: bytes,
        caption: str | None = None,
        media_group_id: str | None = None,
        *,
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> Update:
        content: dict[str, Any] = {"photo": media_object(self, "photo", data)}
        if caption:
            content["caption"] = caption
        if media_group_id:
            content["media_group_id"] = media_group_id
        return await self._user_message(user, content, chat=chat, thread_id=thread_id)

    async def user_sends_album(
        self,
        user: SimUser,
        photos: list[bytes],
        caption: str | None = None,
        *,
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> list[Update]:
        """N photos sharing one media_group_id (the caption goes on the first, as in clients)."""
        group_id = str(20_000_000_000 + self.next_id())
        return [
            await self.user_sends_photo(
                user,
                data,
                caption if i == 0 else None,
                group_id,
                chat=chat,
                thread_id=thread_id,
            )
            for i, data in enumerate(photos)
        ]

    async def user_sends_document(
        self,
        user: SimUser,
        data: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        *,
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> Update:
        document = media_object(self, "document", data, file_name=file_name, mime_type=mime_type)
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return await self._user_message(user, content, chat=chat, thread_id=thread_id)

    async def user_sends_video(
        self,
        user: SimUser,
        data: bytes,
        caption: str | None = None,
        *,
        duration: int = 5,
        file_name: str = "video.mp4",
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> Update:
        video = media_object(self, "video", data, file_name=file_name, duration=duration)
        content: dict[str, Any] = {"video": video}
        if caption:
            content["caption"] = caption
        return await self._user_message(user, content, chat=chat, thread_id=thread_id)

    async def user_sends_sticker(
        self,
        user: SimUser,
        data: bytes = b"RIFF-webp",
        emoji: str = "👍",
        *,
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> Update:
        sticker = media_object(self, "sticker", data)
        sticker["emoji"] = emoji
        return await self._user_message(user, {"sticker": sticker}, chat=chat, thread_id=thread_id)

    async def user_sends_voice(
        self,
        user: SimUser,
        data: bytes,
        duration: int = 3,
        *,
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> Update:
        voice = media_object(self, "voice", data, duration=duration)
        return await self._user_message(user, {"voice": voice}, chat=chat, thread_id=thread_id)

    async def user_sends_location(self, user: SimUser, latitude: float, longitude: float) -> Update:
        return await self._user_message(
            user, {"location": {"latitude": latitude, "longitude": longitude}}
        )

    async def user_sends_poll(
        self,
        user: SimUser,
        question: str,
        options: list[str],
        *,
        is_anonymous: bool = False,
        chat: SimChat | None = None,
        thread_id: int | None = None,
    ) -> Update:
        poll = {
            "id": str(self.next_id()),
            "question": question,
            "options": [
                {"persistent_id": str(i), "text": text, "voter_count": 0}
                for i, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": is_anonymous,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": True,
            "members_only": False,
        }
        return await self._user_message(user, {"poll": poll}, chat=chat, thread_id=thread_id)

    # --- buttons and blocking ---------------------------------------------------------------

    async def user_clicks(
        self,
        user: SimUser,
        message: SentMessage | int,
        callback_data: str,
        *,
        strict: bool = True,
    ) -> Update:
        """Press an inline button of a bot message; `strict` demands the button exists."""
        if isinstance(message, int):
            sent = self.chats[user.id].bot_messages.get(message)
            if sent is None:
                raise LookupError(f"no bot message {message} in the chat of user {user.id}")
        else:
            sent = message
        if sent.deleted:
            raise LookupError(f"bot message {sent.message_id} was deleted")
        if strict and callback_data not in sent.button_data():
            raise LookupError(
                f"message {sent.message_id} has no button {callback_data!r}; "
                f"it has {sent.button_data()}"
            )
        query_id = f"{self.next_id()}{secrets.randbelow(10**9):09d}"
        query = {
            "id": query_id,
            "from": user.to_api(),
            "message": dict(sent.message),  # a snapshot: later edits must not leak in
            "chat_instance": str(abs(hash((sent.chat_id, self.bot_id))) % 10**18),
            "data": callback_data,
        }
        update = self.enqueue("callback_query", query)
        self.callbacks[query_id] = CallbackRecord(
            query_id,
            user.id,
            sent.chat_id,
            sent.message_id,
            callback_data,
            self.clock(),
            update["update_id"],
        )
        await asyncio.sleep(0)
        return update

    async def user_blocks_bot(self, user: SimUser) -> Update:
        user.blocked_bot = True
        return self._my_chat_member(user, "member", "kicked")

    async def user_unblocks_bot(self, user: SimUser) -> Update:
        user.blocked_bot = False
        return self._my_chat_member(user, "kicked", "member")

    def _my_chat_member(self, user: SimUser, old: str, new: str) -> Update:
        chat = self.chats[user.id]
        bot = self.bot_user()
        old_member: dict[str, Any] = {"status": old, "user": bot}
        new_member: dict[str, Any] = {"status": new, "user": bot}
        for member in (old_member, new_member):
            if member["status"] == "kicked":
                member["until_date"] = 0
        return self.enqueue(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": user.to_api(),
                "date": self.now(),
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            },
        )

    def redeliver(self, update: Update) -> None:
        """Deliver an update a second time (same update_id), as after a lost confirmation."""
        self.updates.redeliver(update)
        self.webhook.notify()
        self.notify_change()
