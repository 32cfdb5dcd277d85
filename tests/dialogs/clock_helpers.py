"""What the lifecycle's clock and survey tests share: a service with an agents' group, the
timers that fell due fired through the unit of work (as the timer worker hands them over),
and a profile that approves automatically when the shop does not review in time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from dialogs.agents.topic import DeskInfo
from dialogs.clock import FrozenClock
from dialogs.clocks import Clocks
from dialogs.customer import Conversations, ShopInfo
from dialogs.events import Outgoing, Reply, TopicPost
from dialogs.lifecycle.steps import Lifecycle
from dialogs.paths import POLICIES_DIR
from dialogs.policy import load_policy
from dialogs.texts import Texts
from dialogs.work import Batcher, Job, TimerInput, Work
from storage.db import Database
from storage.models import Case, CaseEvent, Timer
from storage.repos.timers import TimerRepo
from storage.unit import Units
from tests.dialogs.harness import RETURNS, Chat, Service

GROUP = -1009876543210
SUPERVISOR = 7003
DESK = DeskInfo(agent_chats=(GROUP,), agents=(7001,), supervisors=(SUPERVISOR,), locale="en")
STANDARD_REVIEW = "review: {length: 2, unit: working_days, on_expiry: escalate}"


def auto_approve_profile(tmp: Path) -> str:
    """The standard profile, but a request nobody reviewed in time is approved (as the large
    platforms do)."""
    text = (POLICIES_DIR / "standard.yaml").read_text(encoding="utf-8")
    assert STANDARD_REVIEW in text
    text = text.replace(STANDARD_REVIEW, STANDARD_REVIEW.replace("escalate", "auto_approve"))
    text = text.replace("name: standard", "name: auto_approve")
    path = tmp / "auto_approve.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def make_service(db: Database, clock: FrozenClock, policy: str = "standard",
                 desk: DeskInfo = DESK) -> Service:  # fmt: skip
    texts = Texts(timezone="Asia/Shanghai")
    profile = load_policy(policy)
    info = ShopInfo(RETURNS, shop_name="Demo Shop", desk=desk)
    conversations = Conversations(policy=profile, texts=texts, info=info)
    units = Units(db, "Asia/Shanghai")
    lifecycle = Lifecycle(texts, profile, desk)
    work = Work(units, conversations, Clocks(texts, desk, lifecycle), clock, lifecycle=lifecycle)
    return Service(work, Batcher(work), units, clock)


async def fire_due(service: Service, *chats: Chat) -> list[Outgoing]:
    """Fire what is due now, one unit of work each; the customers' chats see the replies."""
    now = service.clock.now()
    async with service.units.db.transaction() as s:
        due = await TimerRepo(s).claim_due(now, now + timedelta(minutes=5), "test", 10_000)
    out: list[Outgoing] = []
    for timer in due:
        lane = timer.chat_id if timer.chat_id is not None else 0
        out += await service.work.run(Job(lane, TimerInput(timer), timer_id=timer.id))
    show(out, *chats)
    return out


def show(out: list[Outgoing], *chats: Chat) -> None:
    """Replies that reached a customer outside their own turn appear in their chat."""
    for chat in chats:
        for item in out:
            if isinstance(item, Reply) and item.chat_id == chat.chat_id:
                chat._show(item)


def replies(out: list[Outgoing], chat_id: int) -> str:
    return "\n".join(o.text for o in out if isinstance(o, Reply) and o.chat_id == chat_id)


def topic_texts(out: list[Outgoing]) -> str:
    return "\n".join(str(o.payload.get("text", "")) for o in out if isinstance(o, TopicPost))


async def pending(db: Database) -> dict[str, Timer]:
    async with db.read() as s:
        rows = await s.scalars(select(Timer).where(Timer.fired_at.is_(None),
                                                   Timer.cancelled_at.is_(None)))  # fmt: skip
        found = {t.kind: t for t in rows}
        s.expunge_all()
        return found


async def the_case(db: Database, case_id: int | None = None) -> Case:
    async with db.read() as s:
        stmt = select(Case).order_by(Case.id.desc())
        if case_id is not None:
            stmt = select(Case).where(Case.id == case_id)
        case = await s.scalar(stmt)
        assert case is not None
        s.expunge_all()
        return case


async def event_kinds(db: Database, case_id: int) -> list[str]:
    async with db.read() as s:
        rows = await s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                               .order_by(CaseEvent.id))  # fmt: skip
        return [e.kind for e in rows]


async def clock_events(db: Database, case_id: int) -> list[dict]:
    async with db.read() as s:
        rows = await s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                       CaseEvent.kind == "clock_expired")
                               .order_by(CaseEvent.id))  # fmt: skip
        return [e.data for e in rows]
