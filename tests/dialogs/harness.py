"""Drive the conversation like a customer would — type, tap, share, send — through the path
production runs: each event is stored in the inbox and goes through the unit of work in a
`Batcher` (group commit), as the processor hands it over."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace

from dialogs.clock import FrozenClock
from dialogs.clocks import Clocks
from dialogs.customer import Conversations, ReturnAddress, ShopInfo, Warehouses
from dialogs.events import Button, CallbackAnswer, Event, MediaFile, Outgoing, Reply
from dialogs.lifecycle.steps import Lifecycle
from dialogs.policy import load_policy
from dialogs.texts import Texts
from dialogs.work import Batcher, CustomerInput, Job, Work
from storage.db import Database
from storage.unit import Units

_event_ids = itertools.count(1000)
_file_ids = itertools.count(1)
RETURNS = ReturnAddress(
    address={"zh": "上海市浦东新区示例路 88 号", "en": "88 Example Road, Pudong, Shanghai"},
    recipient={"zh": "售后部", "en": "After-sales Dept."},
    phone="021-5555-0188",
)


@dataclass
class Service:
    """The unit of work and its batcher, as the processor holds them."""

    work: Work
    batcher: Batcher
    units: Units
    clock: FrozenClock
    batched: bool = True  # False: each job in a unit of its own (no group commit)

    async def handle(self, event: Event) -> list[Outgoing]:
        """Store the event (as the intake would) and hand it over; [] for a repeat."""
        payload = {"event": {**asdict(event), "media": [asdict(m) for m in event.media]}}
        inbox_id = await self.units.record_event(event.event_id, event.chat_id, payload,
                                                 self.clock.now())  # fmt: skip
        if inbox_id is None:
            return []
        job = Job(event.chat_id, CustomerInput(replace(event, event_id=inbox_id)), (inbox_id,))
        return await (self.batcher.submit(job) if self.batched else self.work.run(job))


def make_service(db: Database, clock: FrozenClock, policy: str = "standard",
                 warehouses: Warehouses | None = None) -> Service:  # fmt: skip
    texts = Texts(timezone="Asia/Shanghai")
    profile = load_policy(policy)
    lifecycle = Lifecycle(texts, profile)
    conversations = Conversations(
        policy=profile,
        texts=texts,
        info=ShopInfo(RETURNS, shop_name="Demo Shop", warehouses=warehouses, lifecycle=lifecycle),
    )
    units = Units(db, "Asia/Shanghai")
    work = Work(units, conversations, Clocks(texts, None, lifecycle), clock, lifecycle=lifecycle)
    return Service(work, Batcher(work), units, clock)


@dataclass
class Shown:
    message_id: int
    text: str
    buttons: list[list[Button]]


@dataclass
class Chat:
    """One customer's private chat with the bot."""

    service: Service
    user_id: int
    language_code: str = "zh"
    messages: list[Shown] = field(default_factory=list)
    answers: list[CallbackAnswer] = field(default_factory=list)
    last_out: list[Outgoing] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    # How events reach the service: one transaction each by default, or e.g. a Batcher.
    via: Callable[[Event], Awaitable[list[Outgoing]]] | None = None

    @property
    def chat_id(self) -> int:
        return self.user_id

    async def _send(self, **kwargs: object) -> list[Outgoing]:
        event = Event(
            event_id=next(_event_ids),
            chat_id=self.chat_id,
            user_id=self.user_id,
            language_code=self.language_code,
            **kwargs,  # type: ignore[arg-type]
        )
        return await self.deliver(event)

    async def deliver(self, event: Event) -> list[Outgoing]:
        out = await (self.via or self.service.handle)(event)
        self.last_out = out
        for item in out:
            if isinstance(item, CallbackAnswer):
                self.answers.append(item)
            elif isinstance(item, Reply):
                self._show(item)
        return out

    def _show(self, reply: Reply) -> None:
        if reply.edit_message_id is not None:
            for shown in self.messages:
                if shown.message_id == reply.edit_message_id:
                    shown.text, shown.buttons = reply.text, reply.buttons
                    self.messages.remove(shown)
                    self.messages.append(shown)
                    return
        self.messages.append(Shown(next(self._ids), reply.text, reply.buttons))

    # --- what the customer does

    async def text(self, text: str) -> list[Outgoing]:
        return await self._send(kind="text", text=text)

    async def command(self, name: str, arg: str = "") -> list[Outgoing]:
        return await self._send(kind="command", command=name, text=arg)

    async def contact(self, phone: str, user_id: int | None = None) -> list[Outgoing]:
        return await self._send(
            kind="contact",
            contact_phone=phone,
            contact_user_id=self.user_id if user_id is None else user_id,
        )

    async def photos(self, count: int = 1, *, album: bool = True) -> list[Outgoing]:
        media = tuple(
            MediaFile("photo", f"file-{n}", f"uniq-{n}", 120_000)
            for n in (next(_file_ids) for _ in range(count))
        )
        group = f"album-{next(_file_ids)}" if album and count > 1 else None
        return await self._send(kind="media", media=media, media_group_id=group)

    async def sticker(self) -> list[Outgoing]:
        return await self._send(kind="unsupported")

    async def press(self, label: str, *, message: Shown | None = None) -> list[Outgoing]:
        """Tap the first button whose text contains `label` on the newest message having it."""
        candidates = [message] if message else list(reversed(self.messages))
        for shown in candidates:
            for row in shown.buttons:
                for button in row:
                    if label in button.text:
                        return await self._send(
                            kind="button",
                            data=button.data,
                            callback_id=f"cb{next(_event_ids)}",
                            message_id=shown.message_id,
                        )
        raise AssertionError(f"no button {label!r}; last message: {self.last_text}")

    async def press_data(self, data: str, message_id: int = 1) -> list[Outgoing]:
        return await self._send(
            kind="button", data=data, callback_id=f"cb{next(_event_ids)}", message_id=message_id
        )

    # --- what the customer sees

    @property
    def last(self) -> Shown:
        return self.messages[-1]

    @property
    def last_text(self) -> str:
        return self.messages[-1].text if self.messages else ""

    def button_labels(self) -> list[str]:
        return [b.text for row in self.last.buttons for b in row]

    def has_button(self, label: str) -> bool:
        return any(label in text for text in self.button_labels())

    def texts_since(self, out: list[Outgoing]) -> str:
        return "\n".join(o.text for o in out if isinstance(o, Reply))
