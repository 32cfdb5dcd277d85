"""What happens when a clock falls due. Pure: the shop through `ShopPort`, words from templates.

The first clock is the answer-by time promised when a case goes to a person (the profile's
`first_reply`): if it passes with nobody having answered, the case records the breach and the
customer is told honestly that the request is still waiting.
"""

from __future__ import annotations

from datetime import datetime

from dialogs.agents.escalate import HALF_TIME
from dialogs.agents.topic import DeskInfo, TopicWriter
from dialogs.events import Outgoing, Reply
from dialogs.lifecycle import clocks as lifecycle_clocks
from dialogs.lifecycle.steps import Lifecycle
from dialogs.policy.calendar import WorkingCalendar
from dialogs.reports import digest
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.domain import Actor, CaseStatus
from storage.views import TimerView

FIRST_RESPONSE = "first_response"
# A person has still to answer a case in these states.
AWAITING_A_PERSON = (CaseStatus.PENDING_REVIEW, CaseStatus.SUBMITTED, CaseStatus.DISPUTED)


class Clocks:
    def __init__(self, texts: Texts, desk: DeskInfo | None = None,
                 lifecycle: Lifecycle | None = None) -> None:  # fmt: skip
        self.texts = texts
        self.desk = desk or DeskInfo()
        self.lifecycle = lifecycle

    async def fire(self, timer: TimerView, shop: ShopPort, now: datetime) -> list[Outgoing]:
        if timer.kind in lifecycle_clocks.KINDS and self.lifecycle is not None:
            return await lifecycle_clocks.fire(timer, shop, self.lifecycle, now)
        if timer.kind == FIRST_RESPONSE and timer.case_id is not None:
            return await self._first_response(timer.case_id, shop, now)
        if timer.kind == HALF_TIME and timer.case_id is not None:
            return await self._half_time(timer.case_id, shop, now)
        if timer.kind == digest.DIGEST:
            calendar = self.lifecycle.policy.calendar if self.lifecycle else WorkingCalendar(
                self.texts.tz.key)  # fmt: skip
            return await digest.fire(timer, shop, self.texts, self.desk.locale, calendar, now)
        return []  # a kind this version does not know: fired, nothing to do

    async def _half_time(self, case_id: int, shop: ShopPort, now: datetime) -> list[Outgoing]:
        """Half the answer-by time is gone and nobody answered: the topic is reminded."""
        case = await shop.case(case_id)
        if case is None or case.first_response_at is not None:
            return []
        if case.status not in AWAITING_A_PERSON:
            return []
        writer = TopicWriter(shop, self.texts, self.desk, now)
        due = await writer.answer_by(case.id)
        await shop.add_case_event(case.id, Actor.SYSTEM, "first_response_reminded", {}, now)
        await writer.say(case, "desk/half_time", join=True, due=due)
        return writer.out

    async def _first_response(self, case_id: int, shop: ShopPort, now: datetime) -> list[Outgoing]:
        case = await shop.case(case_id)
        if case is None or case.first_response_at is not None:
            return []
        if case.status not in AWAITING_A_PERSON:
            return []
        await shop.add_case_event(case.id, Actor.SYSTEM, "first_response_breached",
                                  {"promised": True}, now)  # fmt: skip
        writer = TopicWriter(shop, self.texts, self.desk, now)
        # The supervisors are named in the topic: a promise to a customer was broken.
        await writer.say(case, "desk/breached", mention=writer.mentions())
        if case.chat_id is not None:
            text = self.texts.render(case.locale, "clocks/first_response_late", case=case)
            writer.out.append(Reply(case.chat_id, text))
        return writer.out
