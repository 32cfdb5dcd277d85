"""Rows for a case's topic in the agents' group, made ready at the moment they leave.

The conversation and the agents' logic write such rows without knowing the topic: a row
names its case (`payload["topic"] = {"case_id", "name"}`), and here, just before the call,
the case's topic is looked up — or created with `createForumTopic` the first time, or created
again when somebody deleted it. A group without topics gets the rows in its main chat, each a
reply to the case's card. The card itself (`card` / `edit_card` rows) is recorded, so later
edits change it in place.

Telegram lets a bot post about 20 messages a minute into one group, all topics together. So
what has queued up for one topic leaves together: relayed texts (`join`) as one message,
several card edits as the newest alone; a message that waited long says how far behind the
topic is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from sqlalchemy import select

from bot.ratelimit import RateLimiter
from bot.render import MAX_TEXT, MAX_TOPIC_NAME
from dialogs.texts import Texts
from storage.db import Database
from storage.models import Case
from storage.repos import CaseRepo, OutboxRepo
from storage.repos.outbox import OutboxRow

log = logging.getLogger(__name__)

NO_TOPICS = 0  # cases.topic_id of a case whose group has no topics: its main chat
JOIN_LIMIT = MAX_TEXT - 600  # room for the lag line and HTML of the joined texts
LAG_NOTE_AFTER = 60.0  # seconds a message waited before it says so
LOST_TOPIC = ("message thread not found", "TOPIC_DELETED", "TOPIC_ID_INVALID")
NOT_A_FORUM = ("not a forum", "CHAT_NOT_FORUM")
JOINING = True  # bench/desk_bench.py turns it off to measure what joining texts is worth


@dataclass(frozen=True, slots=True)
class Prepared:
    """A topic row ready to go: its payload (None: superseded, nothing to send) and the
    queued rows that leave with it."""

    payload: dict[str, Any] | None
    merged: tuple[OutboxRow, ...] = ()


def lost_topic(error: Exception) -> bool:
    return isinstance(error, TelegramBadRequest) and any(m in error.message for m in LOST_TOPIC)


class Topics:
    def __init__(self, db: Database, bot: Bot, texts: Texts) -> None:
        self.db = db
        self.bot = bot
        self.texts = texts

    async def prepare(self, row: OutboxRow, now: datetime, limiter: RateLimiter) -> Prepared:
        """`limiter`: the outbox's, whose group slot a new topic takes."""
        payload = dict(row.payload)
        spec = payload["topic"]
        case_id = int(spec["case_id"])
        place = await self._place(case_id)
        if place is None:
            return Prepared(None)  # the case is gone (erased): nothing to post
        topic_id, card_id = place
        recreated = False
        if topic_id is None:
            recreated = card_id is not None  # it had a topic with a card: somebody deleted it
            name = str(spec.get("name") or "-")
            topic_id = await self._create(row.chat_id, case_id, name, limiter)
        payload["message_thread_id"] = topic_id or None
        if payload.get("edit_card"):
            if card_id is not None and not recreated:
                payload["edit_message_id"] = card_id
        elif topic_id == NO_TOPICS and card_id is not None and not payload.get("card"):
            payload["reply_to"] = card_id
        merged: list[OutboxRow] = []
        if payload.get("edit_card") or payload.get("join"):
            followers = await self._followers(row)
            if payload.get("edit_card") and any(f.payload.get("edit_card") for f in followers):
                return Prepared(None)  # a newer card waits behind: this one is out of date
            if payload.get("join") and JOINING:
                merged = _joinable(payload, followers)
                if merged:
                    texts = [payload["text"], *(f.payload["text"] for f in merged)]
                    payload["text"] = "\n\n".join(texts)
        waited = (now - row.created_at).total_seconds() if row.created_at else 0.0
        notes = []
        if recreated:
            notes.append(self.texts.render(_locale(payload), "desk/topic_recreated"))
        if payload.get("kind") == "message" and waited >= LAG_NOTE_AFTER:
            minutes = max(1, round(waited / 60))
            note = self.texts.render(_locale(payload), "desk/lag", count=1 + len(merged),
                                     minutes=minutes)  # fmt: skip
            notes.append(note)
        if notes and payload.get("kind") == "message":
            payload["text"] = "\n".join([*notes, payload["text"]])
        return Prepared(payload, tuple(merged))

    async def sent(self, row: OutboxRow, payload: dict[str, Any], message_id: int | None) -> None:
        """After Telegram took it: a card's message is remembered for its edits."""
        if message_id is None or not (payload.get("card") or payload.get("edit_card")):
            return
        if payload.get("edit_message_id") == message_id:
            return  # edited in place: nothing changed
        async with self.db.transaction() as session:
            await CaseRepo(session).set_card(int(payload["topic"]["case_id"]), message_id)

    async def forget(self, row: OutboxRow) -> None:
        """The topic was deleted: the next row for the case makes a new one."""
        case_id = int(row.payload["topic"]["case_id"])
        log.warning("the topic of case %s is gone; it will be made again", case_id)
        async with self.db.transaction() as session:
            await CaseRepo(session).set_topic(case_id, None)

    # --- helpers -----------------------------------------------------------------------------

    async def _place(self, case_id: int) -> tuple[int | None, int | None] | None:
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(Case.topic_id, Case.card_message_id).where(Case.id == case_id)
                )
            ).first()
        return (found[0], found[1]) if found is not None else None

    async def _create(self, chat_id: int, case_id: int, name: str, limiter: RateLimiter) -> int:
        """A new topic for the case (NO_TOPICS if the group has none); errors other than
        "not a forum" propagate, so the row is retried like any failed call."""
        if len(name) > MAX_TOPIC_NAME:
            name = name[: MAX_TOPIC_NAME - 1] + "…"
        await limiter.acquire(chat_id)  # a topic's first message counts against the group
        try:
            topic = await self.bot.create_forum_topic(chat_id, name)
            topic_id = int(topic.message_thread_id)
        except TelegramBadRequest as error:
            if not any(m in error.message for m in NOT_A_FORUM):
                raise
            topic_id = NO_TOPICS
        async with self.db.transaction() as session:
            await CaseRepo(session).set_topic(case_id, topic_id)
            if topic_id != NO_TOPICS:
                await CaseRepo(session).set_card(case_id, None)  # the old card went with it
        return topic_id

    async def _followers(self, row: OutboxRow) -> list[OutboxRow]:
        if row.coalesce_key is None:
            return []
        async with self.db.read() as session:
            return await OutboxRepo(session).followers(row.chat_id, row.id, row.coalesce_key)


def _joinable(head: dict[str, Any], followers: list[OutboxRow]) -> list[OutboxRow]:
    """The followers that join the head's text: consecutive joinable texts of its topic, up
    to one message's length (a row of another kind keeps its place, and so do those after)."""
    taken: list[OutboxRow] = []
    size = len(head["text"])
    for follower in followers:
        p = follower.payload
        if not p.get("join") or p.get("kind") != "message":
            break
        size += len(p["text"]) + 2
        if size > JOIN_LIMIT:
            break
        taken.append(follower)
    return taken


def _locale(payload: dict[str, Any]) -> str:
    return str(payload.get("locale") or "zh")
