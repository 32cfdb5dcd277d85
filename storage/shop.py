"""The shop as the conversation and the clocks see it, over one open transaction.

Implements `dialogs.shop.ShopPort` with the repositories of the caller's session, so whatever a
turn writes (a case, its events, a timer) commits with the conversation's state and its
outgoing messages. Everything comes back as plain views (`storage.views`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.domain import Actor, CaseKind, CaseStatus, Outcome
from storage.fresh import FreshCases, new_case_view, new_question_view
from storage.report_figures import PeriodFigures
from storage.repos import (
    AgentRepo,
    CaseRepo,
    CustomerRepo,
    EvidenceRepo,
    IdentificationRepo,
    OrderRepo,
    SurveyRepo,
    TimerRepo,
)
from storage.repos.cases import event_row
from storage.repos.reports import ReportRepo
from storage.repos.timers import timer_row
from storage.views import (
    CaseCard,
    CaseEventView,
    CaseView,
    CustomerView,
    FailureCounts,
    NewCase,
    NewQuestion,
    OrderView,
    SurveyView,
)


class StorageShop:
    def __init__(self, session: AsyncSession, timezone: str) -> None:
        self.tz = timezone
        self.customers = CustomerRepo(session)
        self.orders = OrderRepo(session)
        self.case_repo = CaseRepo(session)
        self.evidence = EvidenceRepo(session)
        self.identification = IdentificationRepo(session)
        self.timers = TimerRepo(session)
        self.agents = AgentRepo(session)
        self.surveys = SurveyRepo(session)
        self.reports = ReportRepo(session)
        # Orders read ahead for a batch's turns (`read_ahead_orders`), by id: each is served
        # once, and a customer's are dropped once this unit writes one of their cases (the
        # count of their claims may have changed).
        self._read_ahead: dict[int, tuple[datetime, tuple[OrderView | None, int]]] = {}
        self._fresh = FreshCases()
        # Case events and timers written by this unit's turns, sent by `flush`: one statement
        # each when the unit ends, or before something reads them.
        self._events: list[dict[str, Any]] = []
        self._timers: list[dict[str, Any]] = []

    async def flush(self) -> None:
        """Write the held case events and timers."""
        events, self._events = self._events, []
        timers, self._timers = self._timers, []
        await self.case_repo.insert_events(events)
        await self.timers.add_many(timers)

    # --- customers and identification ---------------------------------------------------------

    async def customer(self, customer_id: int) -> CustomerView | None:
        return await self.customers.view(customer_id)

    async def customer_by_phone(self, phone: str) -> CustomerView | None:
        return await self.customers.view_by_phone(phone)

    async def customer_by_telegram_user(self, user_id: int) -> CustomerView | None:
        return await self.customers.view_by_telegram_user(user_id)

    async def link_telegram(self, customer_id: int, user_id: int, *, take_over: bool) -> None:
        await self.customers.link_telegram(customer_id, user_id, take_over=take_over)

    async def identification_failures(
        self,
        order_no: str,
        customer_id: int | None,
        *,
        order_since: datetime,
        everyone_since: datetime,
    ) -> FailureCounts:
        return await self.identification.counts(
            order_no, customer_id, order_since=order_since, everyone_since=everyone_since
        )

    async def record_identification_failure(
        self, chat_id: int, order_no: str, customer_id: int | None, now: datetime
    ) -> None:
        await self.identification.record_failure(chat_id, order_no, customer_id, now)

    # --- orders ------------------------------------------------------------------------------

    async def order_by_no(self, order_no: str) -> OrderView | None:
        return await self.orders.view_by_no(order_no)

    async def order(self, order_id: int) -> OrderView | None:
        return await self.orders.view(order_id)

    async def order_with_claims(
        self, order_id: int, since: datetime
    ) -> tuple[OrderView | None, int]:
        ahead = self._read_ahead.pop(order_id, None)
        if ahead is not None and ahead[0] == since:
            return ahead[1]
        return await self.orders.view_with_claims(order_id, since)

    async def read_ahead_orders(self, order_ids: list[int], since: datetime) -> None:
        """Read these orders with their customers' claims in one statement, for the turns of
        a batch that will each ask for one (`order_with_claims`): one round trip instead of a
        round trip per turn."""
        if not order_ids:
            return
        found = await self.orders.views_with_claims(order_ids, since)
        for order_id in order_ids:
            self._read_ahead[order_id] = (since, found.get(order_id, (None, 0)))

    async def orders_page(
        self, customer_id: int, offset: int, limit: int
    ) -> tuple[list[OrderView], int]:
        return await self.orders.page(customer_id, offset, limit)

    # --- cases -------------------------------------------------------------------------------

    async def cases(self, customer_id: int, limit: int) -> list[CaseView]:
        return await self.case_repo.views_for_customer(customer_id, limit)

    async def case(self, case_id: int) -> CaseView | None:
        return self._fresh.view(case_id) or await self.case_repo.view(case_id)

    async def open_case_for_item(self, item_id: int) -> CaseView | None:
        return await self.case_repo.open_for_item(item_id)

    async def evidence_used_elsewhere(self, file_unique_ids: list[str]) -> set[str]:
        return await self.evidence.used_elsewhere(file_unique_ids)

    async def create_case(self, case: NewCase, now: datetime) -> CaseView:
        self._claims_changed(case.customer_id)
        handed_over = now if case.outcome == Outcome.NEEDS_AGENT else None
        case_id, case_no = await self.case_repo.create(
            now=now,
            tz=self.tz,
            kind=CaseKind.REQUEST.value,
            order_id=case.order_id,
            item_id=case.item_id,
            customer_id=case.customer_id,
            chat_id=case.chat_id,
            quantity=case.quantity,
            service=case.service,
            reason=case.reason,
            description=case.description,
            status=case.status,
            outcome=case.outcome,
            rules=case.rules,
            explanation_key=case.explanation_key,
            explanation_values=case.explanation_values,
            alternatives=case.alternatives,
            details=case.details,
            shipping_paid_by=case.shipping_paid_by,
            return_address=case.return_address,
            warehouse=case.warehouse,
            deadline_at=case.deadline_at,
            needs_agent_reason=case.needs_agent_reason,
            handed_over_at=handed_over,
            locale=case.locale,
        )
        await self.evidence.add_many(case_id, case.evidence, now)
        submitted = {"service": case.service, "reason": case.reason, "quantity": case.quantity,
                     "conditions": case.conditions, "evidence": len(case.evidence),
                     **({"details": case.details} if case.details else {})}  # fmt: skip
        decided = {"outcome": case.outcome, "rules": case.rules, "status": case.status}
        self._events += [event_row(case_id, Actor.CUSTOMER, "submitted", submitted, now),
                         event_row(case_id, Actor.BOT, "decided", decided, now)]  # fmt: skip
        return self._fresh.add(new_case_view(case_id, case_no, case, now, handed_over))

    async def create_question(self, question: NewQuestion, now: datetime) -> CaseView:
        case_id, case_no = await self.case_repo.create(
            now=now,
            tz=self.tz,
            kind=CaseKind.QUESTION.value,
            customer_id=question.customer_id,
            chat_id=question.chat_id,
            description=question.text,
            status=CaseStatus.PENDING_REVIEW.value,
            outcome=Outcome.NEEDS_AGENT.value,
            handed_over_at=now,
            locale=question.locale,
        )
        self._events.append(event_row(case_id, Actor.CUSTOMER, "asked", {}, now))
        view = new_question_view(case_id, case_no, question, now, CaseStatus.PENDING_REVIEW.value,
                                 Outcome.NEEDS_AGENT.value)  # fmt: skip
        return self._fresh.add(view)

    async def case_by_no(self, case_no: str) -> CaseView | None:
        return await self.case_repo.view_by_no(case_no)

    async def cases_with_waybill(self, waybill: str) -> list[CaseView]:
        return await self.case_repo.with_waybill(waybill)

    async def cases_by_status(self, status: str | None, limit: int, offset: int = 0
                              ) -> list[CaseView]:  # fmt: skip
        return await self.case_repo.views_by_status(status, limit, offset)

    async def hand_over(self, case_id: int, now: datetime) -> CaseView | None:
        """The case goes to a person (if it is not with one already); its view after."""
        found = await self.case(case_id)
        if found is None:
            return None
        if found.handed_over_at is None:
            found = await self.update_case(case_id, now, handed_over_at=now)
        return found

    async def add_case_event(
        self, case_id: int, actor: str, kind: str, data: dict[str, Any], now: datetime,
        actor_id: int | None = None,
    ) -> None:  # fmt: skip
        self._events.append(event_row(case_id, actor, kind, data, now, actor_id))

    async def case_events(self, case_id: int) -> list[CaseEventView]:
        await self.flush()
        return [CaseEventView(e.at, e.actor, e.actor_id, e.kind, dict(e.data or {}))
                for e in await self.case_repo.events(case_id)]  # fmt: skip

    async def update_case(self, case_id: int, now: datetime, **values: Any) -> CaseView:
        """Change the case as it stands now (versioned: a concurrent writer makes the unit
        fail and be redone); its view after."""
        version = self._fresh.version(case_id) or await self.case_repo.version(case_id)
        if version is None:
            raise LookupError(f"no case {case_id}")
        changed = await self.case_repo.change(case_id, version, now, **values)
        view = self._fresh.changed(case_id, changed, values) or await self.case_repo.view(case_id)
        assert view is not None
        self._claims_changed(view.customer_id)
        return view

    def _claims_changed(self, customer_id: int) -> None:
        self._read_ahead = {
            order_id: (since, (order, claims))
            for order_id, (since, (order, claims)) in self._read_ahead.items()
            if order is None or order.customer_id != customer_id
        }

    async def add_evidence(self, case_id: int, files: list[dict[str, Any]], now: datetime) -> None:
        await self.evidence.add_many(case_id, files, now)

    # --- the agents' side --------------------------------------------------------------------

    async def case_by_topic(self, agent_chat_id: int, topic_id: int) -> CaseView | None:
        return await self.case_repo.by_topic(agent_chat_id, topic_id)

    async def case_by_card(self, agent_chat_id: int, message_id: int) -> CaseView | None:
        return await self.case_repo.by_card(agent_chat_id, message_id)

    async def case_card(self, case_id: int) -> CaseCard | None:
        case = await self.case_repo.view(case_id)
        facts = await self.case_repo.card_facts(case_id)
        if case is None or facts is None:
            return None
        customer = await self.customers.view(case.customer_id)
        assert customer is not None
        earlier = [c for c in await self.case_repo.views_for_customer(case.customer_id, 6)
                   if c.id != case.id][:5]  # fmt: skip
        files = [(e.kind, e.file_id) for e in await self.evidence.for_case(case_id)]
        return CaseCard(
            case=case, customer=customer, unit_price=facts.unit_price,
            currency=facts.currency or "CNY", rules=list(facts.rules or []),
            needs_agent_reason=facts.needs_agent_reason, explanation_key=facts.explanation_key,
            explanation_values=dict(facts.explanation_values or {}),
            details=dict(facts.details or {}), evidence=files, earlier=earlier,
        )  # fmt: skip

    async def at_the_desk(self, agent_chat_id: int, owner: int | None = None) -> list[CaseView]:
        """Cases of the group with a person, oldest first; `owner`: one agent's (user id)."""
        owner_id = None
        if owner is not None:
            agent = await self.agents.by_telegram_user(owner)
            if agent is None:
                return []
            owner_id = agent.id
        return await self.case_repo.at_the_desk(agent_chat_id, owner_id)

    async def agent_id(self, user_id: int, name: str, role: str) -> int:
        """The agent row of this Telegram user (made on their first action)."""
        agent = await self.agents.by_telegram_user(user_id)
        if agent is not None and agent.name == name and agent.role == role:
            return agent.id
        return (await self.agents.upsert(user_id, name, role)).id

    # --- clocks ------------------------------------------------------------------------------

    async def start_timer(
        self,
        kind: str,
        due_at: datetime,
        now: datetime,
        *,
        case_id: int | None = None,
        chat_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        self._timers.append(timer_row(kind, due_at, now, case_id, chat_id, payload))
        self._fresh.started(case_id, kind, due_at)

    async def cancel_timers(self, case_id: int, kinds: list[str], now: datetime) -> None:
        clocks = self._fresh.clocks(case_id)
        if clocks is not None and not clocks.keys() & set(kinds):
            return  # a case of this unit's without such clocks: there is nothing to stop
        await self.flush()
        await self.timers.cancel(case_id, kinds, now)
        self._fresh.cancelled(case_id, kinds)

    async def running_clocks(self, case_id: int) -> dict[str, datetime]:
        clocks = self._fresh.clocks(case_id)
        if clocks is not None:
            return clocks
        await self.flush()
        running: dict[str, datetime] = {}
        for timer in await self.timers.pending(case_id):  # soonest first
            running.setdefault(timer.kind, timer.due_at)
        return running

    # --- the satisfaction survey -------------------------------------------------------------

    async def ask_survey(self, case_id: int, now: datetime, agent_user_id: int | None = None
                         ) -> bool:  # fmt: skip
        """Record the survey as asked (with the agent who had the case); False if it was."""
        agent = await self.agents.by_telegram_user(agent_user_id) if agent_user_id else None
        return await self.surveys.ask(case_id, now, agent.id if agent else None)

    async def survey(self, case_id: int) -> SurveyView | None:
        return await self.surveys.view(case_id)

    async def answer_survey(self, case_id: int, now: datetime, **values: Any) -> SurveyView | None:
        return await self.surveys.record(case_id, now, **values)

    # --- reports ------------------------------------------------------------------------------

    async def report_figures(self, start: datetime, end: datetime) -> PeriodFigures:
        await self.flush()
        return await self.reports.report_figures(start, end)
