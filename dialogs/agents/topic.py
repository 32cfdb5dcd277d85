"""What goes into a case's topic in the agents' group: the card, the evidence, the customer's
messages, notes. Pure: it reads the shop through `ShopPort` and returns `TopicPost`s, which the
unit of work queues in the outbox (the outbox finds or makes the topic when they leave).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialogs.events import Event, Outgoing, TopicPost
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.views import CaseView

from . import card as cards

FIRST_RESPONSE = "first_response"
MAX_ALBUM = 10


@dataclass(frozen=True)
class DeskInfo:
    """The shop's agents' side, from the settings."""

    agent_chats: tuple[int, ...] = ()  # the agents' groups; cases are spread over them
    agents: tuple[int, ...] = ()  # user ids; the groups' administrators are agents too
    supervisors: tuple[int, ...] = ()
    locale: str = "zh"  # the agents' language

    @property
    def enabled(self) -> bool:
        return bool(self.agent_chats)

    def group_for(self, case: CaseView) -> int:
        """Round robin by case number: each group gets every n-th case (one group's 20
        messages a minute are shared by all its topics)."""
        return self.agent_chats[case.id % len(self.agent_chats)]


@dataclass
class TopicWriter:
    shop: ShopPort
    texts: Texts
    info: DeskInfo
    now: datetime
    out: list[Outgoing] = field(default_factory=list)

    def t(self, key: str, **values: Any) -> str:
        return str(self.texts.render(self.info.locale, key, **values))

    async def post(self, case: CaseView, payload: dict[str, Any]) -> None:
        if case.agent_chat_id is None:
            return
        customer = await self.shop.customer(case.customer_id)
        name = cards.topic_name(
            self.texts, self.info.locale, case, customer.name if customer else ""
        )
        self.out.append(TopicPost(case.agent_chat_id, case.id, name, payload, self.info.locale))

    async def say(self, case: CaseView, key: str, *, join: bool = False, **values: Any) -> None:
        """A line of the bot's in the topic; `join`: may leave together with others."""
        payload: dict[str, Any] = {"kind": "message", "text": self.t(key, case=case, **values)}
        if join:
            payload["join"] = True
        await self.post(case, payload)

    # --- the card -----------------------------------------------------------------------------

    async def card(self, case: CaseView, *, new: bool, evidence: bool = False,
                   mention: bool = False) -> None:  # fmt: skip
        """The case card: posted (`new`) or edited in place; `evidence` follows as an album;
        `mention` names the supervisors (a complaint, a breached clock)."""
        found = await self.shop.case_card(case.id)
        if found is None or case.agent_chat_id is None:
            return
        answer_by = await self.answer_by(case.id)
        text = cards.card_text(self.texts, self.info.locale, found, answer_by)
        if mention and self.info.supervisors:
            text += "\n" + self.mentions()
        rows = cards.buttons(self.texts, self.info.locale, found.case, len(found.evidence))
        payload: dict[str, Any] = {
            "kind": "message",
            "text": text,
            "buttons": [[{"text": b.text, "data": b.data} for b in row] for row in rows],
            ("card" if new else "edit_card"): True,
        }
        await self.post(found.case, payload)
        if evidence and found.evidence:
            await self.evidence(found.case, found.evidence)

    async def evidence(self, case: CaseView, files: list[tuple[str, str]]) -> None:
        media = [{"type": kind if kind in ("photo", "video", "document") else "document",
                  "media": file_id} for kind, file_id in files]  # fmt: skip
        # An album holds photos and videos together, documents only with documents.
        photos = [m for m in media if m["type"] != "document"]
        documents = [m for m in media if m["type"] == "document"]
        for group in (photos, documents):
            if group:
                await self.post(case, {"kind": "media_group", "media": group[: MAX_ALBUM * 2]})

    def mentions(self) -> str:
        links = [f'<a href="tg://user?id={uid}">{self.t("desk/supervisor")}</a>'
                 for uid in self.info.supervisors]  # fmt: skip
        return " ".join(links)

    async def answer_by(self, case_id: int) -> datetime | None:
        return (await self.shop.running_clocks(case_id)).get(FIRST_RESPONSE)

    # --- the customer's messages --------------------------------------------------------------

    async def relay(self, case: CaseView, event: Event) -> None:
        """What the customer sent, into the topic: texts as text (so that several that queue
        up leave as one message), an album as an album, anything else copied as it is."""
        if event.kind == "text" and event.text:
            text = self.t("desk/from_customer", text=event.text)
            await self.post(case, {"kind": "message", "text": text, "join": True})
        elif event.kind == "media" and len(event.media) > 1:
            media = [{"type": m.kind, "media": m.file_id} for m in event.media]
            if event.text:
                media[0]["caption"] = str(self.texts.render(self.info.locale, "desk/caption",
                                                            text=event.text))  # fmt: skip
            await self.post(case, {"kind": "media_group", "media": media})
        elif event.message_id is not None:
            await self.post(case, {"kind": "copy", "from_chat_id": event.chat_id,
                                   "message_id": event.message_id})  # fmt: skip
