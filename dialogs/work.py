"""One unit of work for every input: a customer's update, an agent's action in the group, a
timer that fell due, a membership change.

For each input, in one transaction: the input is taken (its inbox rows finished, or its timer
fired — guarded, so it counts once), the pure handler runs, and the conversation it changed,
the case events and the outgoing messages are written. Work is serialised per lane: a lane is
the customer's chat, so everything about one customer happens one at a time, and customers
(and two agents on two customers' cases) never wait on each other. Across processes the
version columns decide: of two writers of one conversation or case, the loser's unit is
redone from the start, never half-kept.

Under load the inputs of different lanes that are ready at the same moment share one unit
(`Batcher`: group commit); if that shared unit fails, each input is redone alone, so one bad
input costs only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from dialogs.agents.handler import Agents, Role
from dialogs.clock import Clock
from dialogs.clocks import Clocks
from dialogs.customer import Conversations, ConversationState, evidence_slots
from dialogs.events import CallbackAnswer, Copy, Event, Outgoing, Reply, Resume, TopicPost
from dialogs.flow import State
from dialogs.lifecycle.steps import Lifecycle, Refused, Step
from storage.unit import AlreadyDone, Conflict, Unit, Units
from storage.views import CaseView, ConversationRecord, TimerView

log = logging.getLogger(__name__)
RETRIES = 5


@dataclass(frozen=True, slots=True)
class CustomerInput:
    """Something a customer did in their private chat with the bot."""

    event: Event


@dataclass(frozen=True, slots=True)
class GroupInput:
    """Something done in a group: the agents' side (messages, buttons, commands). `role`: what
    the sender may do there (found out before, by bot/roles.py), None for anyone else."""

    event: Event
    role: Role = None


@dataclass(frozen=True, slots=True)
class TimerInput:
    """A clock that fell due."""

    timer: TimerView


@dataclass(frozen=True, slots=True)
class CaseStepInput:
    """A step of a case's life asked from outside the customer's chat: the CLI, the shop's
    HTTP API, a carrier's tracking update. A refused step raises `Refused` and keeps nothing."""

    case_id: int
    step: Step


@dataclass(frozen=True, slots=True)
class MembershipInput:
    """The customer blocked the bot, or came back."""

    chat_id: int
    blocked: bool


Input = CustomerInput | GroupInput | TimerInput | CaseStepInput | MembershipInput


@dataclass(frozen=True, slots=True)
class Job:
    """An input and where it came from: the inbox rows it finishes (an album is several), or
    the timer it fires. `lane` serialises it with the rest of its customer's work."""

    lane: int
    input: Input
    inbox_ids: tuple[int, ...] = ()
    timer_id: int | None = None


GroupHandler = Callable[[Unit, Event, Role], Awaitable[list[Outgoing]]]


async def no_group_handler(_unit: Unit, event: Event, _role: Role) -> list[Outgoing]:
    """A shop without an agents' group: a group's button only has its spinner stopped."""
    if event.kind == "button" and event.callback_id:
        return [CallbackAnswer(event.chat_id, event.callback_id)]
    return []


def agents_handler(agents: Agents) -> GroupHandler:
    async def handle(unit: Unit, event: Event, role: Role) -> list[Outgoing]:
        return await agents.handle(unit.shop, event, role, unit.now)

    return handle


class Work:
    def __init__(
        self,
        units: Units,
        conversations: Conversations,
        clocks: Clocks,
        clock: Clock,
        *,
        group: GroupHandler = no_group_handler,
        on_outbox: Callable[[], None] | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.units = units
        self.lifecycle = lifecycle
        self.conversations = conversations
        self.clocks = clocks
        self.clock = clock
        self.group = group
        self.on_outbox = on_outbox
        self.lanes = LaneLocks()

    async def run(self, job: Job) -> list[Outgoing]:
        """The job in a unit of its own, redone when another writer won a conflict."""
        async with self.lanes.hold([job.lane]):
            for attempt in range(RETRIES):
                try:
                    return await self._run_alone(job)
                except AlreadyDone:
                    return []  # another worker finished it: nothing to do, nothing to say
                except Conflict as exc:
                    if attempt == RETRIES - 1:
                        raise
                    log.info("redoing job in lane %s after a concurrent write: %s", job.lane, exc)
                    await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def run_many(self, jobs: Sequence[Job]) -> list[list[Outgoing]]:
        """Jobs of different lanes in ONE unit (group commit): one commit, one turn of the
        SQLite write lock for all. If anything fails nothing of them is kept and the error
        propagates; the caller redoes them one by one (`Batcher`)."""
        lanes = [job.lane for job in jobs]
        if len(set(lanes)) != len(lanes):
            raise ValueError("a batch holds at most one job per lane")
        async with self.lanes.hold(lanes):
            now = self.clock.now()
            async with self.units.open(now) as unit:
                chats = [j.input.event.chat_id for j in jobs if isinstance(j.input, CustomerInput)]
                known = await unit.conversations(chats) if chats else {}
                states = await self._read_ahead(unit, known)
                results = [await self._apply(unit, job, known, states) for job in jobs]
                sends = unit.sends
        self._notify(sends)
        return results

    async def media_slots(self, chat_id: int) -> int:
        """How many of a media event's files the chat's conversation would keep now."""
        record = await self.units.conversation(chat_id)
        return evidence_slots(_state(record)) if record is not None else 0

    async def _run_alone(self, job: Job) -> list[Outgoing]:
        now = self.clock.now()
        async with self.units.open(now) as unit:
            chats = [job.input.event.chat_id] if isinstance(job.input, CustomerInput) else []
            known = await unit.conversations(chats) if chats else {}
            outgoing = await self._apply(unit, job, known)
            sends = unit.sends
        self._notify(sends)
        return outgoing

    async def _read_ahead(
        self, unit: Unit, known: dict[int, ConversationRecord]
    ) -> dict[int, ConversationState]:
        """The batch's conversations loaded, and the orders their turns will read fetched in
        one statement instead of one each (most turns of a request read its order)."""
        states = {chat: _state(record) for chat, record in known.items()}
        wanted = [o for st in states.values() if (o := self.conversations.order_ahead(st))]
        if len(wanted) > 1:
            await unit.shop.read_ahead_orders(wanted, self.conversations.claims_since(unit.now))
        return states

    async def _apply(
        self,
        unit: Unit,
        job: Job,
        known: dict[int, ConversationRecord],
        states: dict[int, ConversationState] | None = None,
    ) -> list[Outgoing]:
        """Take the job's input and run its handler inside `unit` (`states`: the
        conversations of `known`, already loaded)."""
        unit.finish_inbox(job.inbox_ids)
        if job.timer_id is not None and not await unit.fire_timer(job.timer_id):
            return []  # fired by another worker, or cancelled meanwhile
        kind = job.input
        if isinstance(kind, CustomerInput):
            chat = kind.event.chat_id
            state = states.get(chat) if states is not None else None
            outgoing = await self._turn(unit, kind.event, known.get(chat), state)
        elif isinstance(kind, TimerInput):
            outgoing = await self.clocks.fire(kind.timer, unit.shop, unit.now)
        elif isinstance(kind, GroupInput):
            outgoing = await self.group(unit, kind.event, kind.role)
        elif isinstance(kind, CaseStepInput):
            outgoing = await self._step(unit, kind)
        else:
            await unit.note_membership(kind.chat_id, kind.blocked)
            outgoing = []
        for out in outgoing:
            if isinstance(out, Reply):
                unit.send(out.chat_id, out.thread_id, out.as_payload())
            elif isinstance(out, Copy):
                unit.send(out.chat_id, None, out.as_payload())
            elif isinstance(out, TopicPost):
                unit.send(out.agent_chat_id, None, out.as_payload())
            elif isinstance(out, Resume):
                await self._resume(unit, out.chat_id, known)
        return outgoing

    async def _step(self, unit: Unit, kind: CaseStepInput) -> list[Outgoing]:
        case = await unit.shop.case(kind.case_id)
        if case is None or self.lifecycle is None:
            raise Refused("no_case", case_no=str(kind.case_id))
        outgoing: list[Outgoing] = []
        await self.lifecycle.apply(unit.shop, case, kind.step, unit.now, outgoing)
        return outgoing

    async def step(self, case_no: str, step: Step) -> CaseView:
        """Take a step of the case numbered `case_no` in its customer's lane; the case after.
        `Refused` if there is no such case or the step cannot be taken (nothing is kept)."""
        found = await self.units.case_lane(case_no.strip())
        if found is None:
            raise Refused("no_case", case_no=case_no)
        case_id, lane = found
        await self.run(Job(lane, CaseStepInput(case_id, step)))
        view = await self.units.case_view(case_id)
        assert view is not None
        return view

    async def _resume(self, unit: Unit, chat_id: int, known: dict[int, ConversationRecord]
                      ) -> None:  # fmt: skip
        """A person is done with the customer: the bot answers the customer's chat again."""
        record = known.get(chat_id) or (await unit.conversations([chat_id])).get(chat_id)
        if record is None:
            return
        state = _state(record)
        if state.state != State.WITH_AGENT:
            return
        state.state = self.conversations.flow.fire(state.state, "to_menu")
        state.context.case_id = None
        unit.save(record, state=state.state, context=state.context_json(), locale=state.locale,
                  customer_id=state.customer_id, mode="bot")  # fmt: skip

    async def _turn(
        self,
        unit: Unit,
        event: Event,
        record: ConversationRecord | None,
        state: ConversationState | None = None,
    ) -> list[Outgoing]:
        """The customer's conversation takes its turn; its new state is saved with the rest.
        `state`: the record's, if it was loaded already."""
        if record is None:
            customer = await unit.shop.customer_by_telegram_user(event.user_id)
            record = await unit.new_conversation(
                event.chat_id,
                event.user_id,
                self.conversations.texts.locale(event.language_code),
                State.MENU.value if customer else State.IDENTIFY.value,
                customer.id if customer else None,
            )
            state = None
        if state is None:
            state = _state(record)
        outgoing = await self.conversations.handle(state, event, unit.shop, unit.now)
        unit.save(
            record,
            state=state.state,
            context=state.context_json(),
            locale=state.locale,
            customer_id=state.customer_id,
            mode="agent" if state.state == State.WITH_AGENT else "bot",
        )
        return outgoing

    def _notify(self, sends: bool) -> None:
        if sends and self.on_outbox is not None:
            self.on_outbox()


def _state(record: ConversationRecord) -> ConversationState:
    return ConversationState.load(record.state, record.context, record.locale, record.customer_id)


class LaneLocks:
    """One asyncio.Lock per lane, dropped when nobody holds or waits for it. The processor
    already runs one job per lane at a time; this keeps other callers (tools, tests, the
    timers) from stepping one conversation twice at once in this process."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, lanes: Sequence[int]) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as held:
            for lane in sorted(set(lanes)):  # sorted: two holders can never wait on each other
                await held.enter_async_context(self._one(lane))
            yield

    @asynccontextmanager
    async def _one(self, lane: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(lane, (asyncio.Lock(), 0))
        self._locks[lane] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[lane]
            if users <= 1:
                del self._locks[lane]
            else:
                self._locks[lane] = (lock, users - 1)


class Batcher:
    """Gathers jobs that are ready at the same moment into one `Work.run_many` call.

    No waiting is added: the first job starts a batch at once; jobs arriving while that batch's
    transaction runs form the next one. Quiet times give batches of one, busy times bigger
    ones. Callers guarantee one job per lane at a time (the processor does).

    `parallel` batches may run at once, each in its own transaction: while one waits for the
    database the next is handled. Their lanes differ, so they touch different customers' rows
    (two workers do the same). SQLite has one writer and runs its statements on the event
    loop's thread: one batch at a time there.
    """

    def __init__(self, work: Work, max_batch: int = 64, parallel: int = 1) -> None:
        self.work = work
        self.max_batch = max_batch
        self.parallel = max(1, parallel)
        self._pending: list[tuple[Job, asyncio.Future[list[Outgoing]]]] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()  # kept referenced while they run

    async def submit(self, job: Job) -> list[Outgoing]:
        future: asyncio.Future[list[Outgoing]] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        if self._running < self.parallel:
            self._running += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let the jobs that are ready right now join
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._run(batch)
        finally:
            self._running -= 1  # here, not in a done callback: a job queued now starts one

    async def _run(self, batch: list[tuple[Job, asyncio.Future[list[Outgoing]]]]) -> None:
        try:
            results = await self.work.run_many([job for job, _ in batch])
        except Exception:  # each job is redone alone, where its own error surfaces
            if len(batch) > 1:
                log.info("a batch of %d failed; handling its jobs one by one", len(batch))
            for job, future in batch:
                try:
                    future.set_result(await self.work.run(job))
                except Exception as exc:  # handed to the job's own caller
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
