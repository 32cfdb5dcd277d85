"""The agents' side of a case: what a button, a command or a message in the agents' group does.

Pure like the customer's side: the shop through `ShopPort`, words from templates, the desk
and dispute tables decide which actions exist. Each action is a case event with the agent's
id; the card is edited in place; a decision reaches the customer in their language, and the
customer's conversation goes back to the bot (`Resume`) when a person is done with it.

Who may act is decided before this runs (bot/roles.py: AGENT_IDS, SUPERVISOR_IDS, the group's
administrators) and arrives as `role`; anyone else is refused and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from dialogs.events import CallbackAnswer, Copy, Event, Outgoing, Reply
from dialogs.lifecycle.carriers import CARRIERS
from dialogs.lifecycle.steps import Lifecycle, Refused
from dialogs.policy import Policy
from dialogs.reports import command as reports
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.domain import Actor, Service
from storage.views import CaseView

from . import card as cards
from .actions import LIFECYCLE_COMMANDS, Actions, typed_step
from .desk import relays
from .topic import DeskInfo, TopicWriter

Role = Literal["agent", "supervisor"] | None
NOTE_PREFIX = "//"
COMMANDS = ("take", "approve", "reject", "offer", "ask", "note", "back", "close", "card",
            "order", "evidence", "accept", "investigate", "resolve", "queue", "mine",
            "help", "report", *LIFECYCLE_COMMANDS)  # fmt: skip
# A button that needs words from the agent answers with the command to type.
TYPED = {"ask": "desk/type_ask", "resolve": "desk/type_resolve"}


@dataclass(frozen=True, slots=True)
class AgentInput:
    event: Event
    role: Role


class Agents:
    def __init__(self, texts: Texts, policy: Policy, info: DeskInfo,
                 returns: object | None = None, lifecycle: Lifecycle | None = None
                 ) -> None:  # fmt: skip
        self.texts = texts
        self.policy = policy
        self.info = info
        self.returns = returns
        self.lifecycle = lifecycle

    async def handle(self, shop: ShopPort, event: Event, role: Role,
                     now: datetime) -> list[Outgoing]:  # fmt: skip
        if event.chat_id not in self.info.agent_chats:
            return _stop_spinner(event)  # not an agents' group of this shop: nothing to do
        writer = TopicWriter(shop, self.texts, self.info, now)
        actions = Actions(writer, self.policy, self.returns, self.lifecycle)
        case = await self._case_of(shop, event)
        if event.kind == "button":
            await self._button(actions, event, role, case)
        elif event.kind == "command":
            await self._command(actions, event, role, case)
        elif case is not None and role is not None:
            await self._message(actions, event, case)
        return writer.out

    # --- what the update is about -------------------------------------------------------------

    async def _case_of(self, shop: ShopPort, event: Event) -> CaseView | None:
        """The case whose topic the update is in, or whose card it replies to / sits on."""
        if event.thread_id:
            found = await shop.case_by_topic(event.chat_id, event.thread_id)
            if found is not None:
                return found
        ref = event.message_id if event.kind == "button" else event.reply_to
        if ref is not None:
            return await shop.case_by_card(event.chat_id, ref)
        return None

    # --- buttons ------------------------------------------------------------------------------

    async def _button(self, actions: Actions, event: Event, role: Role,
                      case: CaseView | None) -> None:  # fmt: skip
        out, locale = actions.writer.out, self.info.locale
        parsed = cards.parse(event.data)

        def answer(key: str | None = None, **values: object) -> None:
            text = self.texts.plain(locale, key, **values) if key else None
            out.append(CallbackAnswer(event.chat_id, event.callback_id or "", text))

        if role is None:
            answer("desk/not_an_agent")
            return
        # The button must be on this case's card or in its topic: data naming another case
        # (forged, or pasted from elsewhere) is refused.
        if parsed is None or case is None or parsed[1] != case.id:
            answer("desk/not_this_case")
            return
        action, _, choice = parsed
        if action in TYPED:
            answer(TYPED[action])
            return
        refusal = await actions.run(case, action, choice, "", event, role, on_card=True)
        answer(refusal)

    # --- commands -----------------------------------------------------------------------------

    async def _command(self, actions: Actions, event: Event, role: Role,
                       case: CaseView | None) -> None:  # fmt: skip
        name, arg = event.command, event.text.strip()
        if name not in COMMANDS:
            return  # someone else's bot command, or the customer's: not ours to answer
        if role is None:
            await self._reply(actions, event, "desk/not_an_agent")
            return
        if name in ("queue", "mine"):
            owner = event.user_id if name == "mine" else None
            cases = await actions.writer.shop.at_the_desk(event.chat_id, owner)
            timers = {c.id: await actions.writer.answer_by(c.id) for c in cases}
            await self._reply(actions, event, "desk/queue", cases=cases, answer_by=timers,
                              mine=name == "mine", now=actions.writer.now)  # fmt: skip
            return
        if name == "help":
            await self._reply(actions, event, "desk/help")
            return
        if name == "report":  # the desk's figures, a chart and its key numbers
            writer = actions.writer
            writer.out.append(await reports.answer(writer.shop, event, self.texts,
                                                   self.info.locale, self.policy.calendar,
                                                   writer.now))  # fmt: skip
            return
        if case is None:
            await self._reply(actions, event, "desk/no_case_here")
            return
        if name in LIFECYCLE_COMMANDS or (name == "close" and actions.closes_by_lifecycle(case)):
            await self._lifecycle(actions, event, case, name, arg)
            return
        action = {"back": "hand_back"}.get(name, name)
        choice, words = _split(action, arg)
        refusal = await actions.run(case, action, choice, words, event, role, on_card=False)
        if refusal:
            await self._reply(actions, event, refusal)

    async def _lifecycle(self, actions: Actions, event: Event, case: CaseView, name: str,
                         arg: str) -> None:  # fmt: skip
        """A step of the case's life after the decision: done, or the refusal in the topic."""
        step = typed_step(name, arg, event.user_id)
        if step is None:
            await self._reply(actions, event, "desk/type_step", command=name,
                              carriers=", ".join(c.code for c in CARRIERS))  # fmt: skip
            return
        try:
            await actions.step(case, step)
        except Refused as refused:
            await self._reply(actions, event, f"lifecycle/refused_{refused.code}",
                              **refused.values)  # fmt: skip

    async def _reply(self, actions: Actions, event: Event, key: str, **values: object) -> None:
        """An answer where the command was typed (its topic, or the group's main chat)."""
        text = self.texts.render(self.info.locale, key, **values)
        actions.writer.out.append(Reply(event.chat_id, str(text), thread_id=event.thread_id))

    # --- messages -----------------------------------------------------------------------------

    async def _message(self, actions: Actions, event: Event, case: CaseView) -> None:
        """An agent writing in the case's topic: to the customer, unless it is a note."""
        shop, now = actions.writer.shop, actions.writer.now
        if event.kind == "text" and event.text.startswith(NOTE_PREFIX):
            await actions.note(case, event, event.text[len(NOTE_PREFIX) :].strip())
            return
        if not relays(case.desk) or case.chat_id is None:
            await actions.writer.say(case, "desk/not_relayed", join=True)
            return
        if event.message_id is None:
            return
        actions.writer.out.append(Copy(case.chat_id, event.chat_id, event.message_id))
        await shop.add_case_event(case.id, Actor.AGENT, "agent_message",
                                  {"text": event.text[:2000]}, now, event.user_id)  # fmt: skip
        await actions.answered(case, event)


def _split(action: str, arg: str) -> tuple[str, str]:
    """(choice, words) of a typed command: `/reject period`, `/reject the seal is broken`,
    `/offer exchange`, `/offer refund 50`."""
    head, _, rest = arg.partition(" ")
    if action == "reject" and head in cards.REJECT_REASONS and not rest:
        return head, ""
    if action == "offer":
        if head in ("refund", "partial") and rest:
            try:
                amount = Decimal(rest.strip().replace(",", "."))
            except InvalidOperation:
                return "bad_amount", ""
            return (f"refund={amount}" if amount > 0 else "bad_amount"), ""
        if head in {s.value for s in Service}:
            return head, ""
        return "", arg
    return "", arg


def _stop_spinner(event: Event) -> list[Outgoing]:
    if event.kind == "button" and event.callback_id:
        return [CallbackAnswer(event.chat_id, event.callback_id)]
    return []
