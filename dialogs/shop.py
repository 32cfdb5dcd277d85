"""What the conversation and the clocks read and write about the shop.

`storage.shop.StorageShop` implements it over one unit of work, so everything a turn writes
(a case, its events, a timer) is committed with the conversation state and the outbox.
Everything comes and goes as plain views (`storage.views`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from storage.report_figures import PeriodFigures
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


class ShopPort(Protocol):
    async def customer(self, customer_id: int) -> CustomerView | None: ...
    async def customer_by_phone(self, phone: str) -> CustomerView | None: ...
    async def customer_by_telegram_user(self, user_id: int) -> CustomerView | None: ...
    async def link_telegram(self, customer_id: int, user_id: int, *, take_over: bool) -> None:
        """Link the Telegram user to the customer; `take_over`: even if another user has it."""
        ...

    async def identification_failures(
        self,
        order_no: str,
        customer_id: int | None,
        *,
        order_since: datetime,
        everyone_since: datetime,
    ) -> FailureCounts: ...
    async def record_identification_failure(
        self, chat_id: int, order_no: str, customer_id: int | None, now: datetime
    ) -> None: ...

    async def order_by_no(self, order_no: str) -> OrderView | None: ...
    async def order(self, order_id: int) -> OrderView | None: ...
    async def order_with_claims(
        self, order_id: int, since: datetime
    ) -> tuple[OrderView | None, int]:
        """The order, and how many standing claims its customer made since `since`."""
        ...

    async def orders_page(
        self, customer_id: int, offset: int, limit: int
    ) -> tuple[list[OrderView], int]: ...

    async def cases(self, customer_id: int, limit: int) -> list[CaseView]: ...
    async def case(self, case_id: int) -> CaseView | None: ...
    async def open_case_for_item(self, item_id: int) -> CaseView | None: ...
    async def evidence_used_elsewhere(self, file_unique_ids: list[str]) -> set[str]: ...
    async def create_case(self, case: NewCase, now: datetime) -> CaseView: ...
    async def create_question(self, question: NewQuestion, now: datetime) -> CaseView: ...
    async def case_by_no(self, case_no: str) -> CaseView | None: ...
    async def cases_with_waybill(self, waybill: str) -> list[CaseView]: ...
    async def cases_by_status(self, status: str | None, limit: int, offset: int = 0
                              ) -> list[CaseView]: ...  # fmt: skip
    async def hand_over(self, case_id: int, now: datetime) -> CaseView | None: ...
    async def add_case_event(
        self, case_id: int, actor: str, kind: str, data: dict[str, Any], now: datetime,
        actor_id: int | None = None,
    ) -> None: ...  # fmt: skip
    async def case_events(self, case_id: int) -> list[CaseEventView]: ...
    async def update_case(self, case_id: int, now: datetime, **values: Any) -> CaseView: ...
    async def add_evidence(
        self, case_id: int, files: list[dict[str, Any]], now: datetime
    ) -> None: ...

    # the agents' side
    async def case_by_topic(self, agent_chat_id: int, topic_id: int) -> CaseView | None: ...
    async def case_by_card(self, agent_chat_id: int, message_id: int) -> CaseView | None: ...
    async def case_card(self, case_id: int) -> CaseCard | None: ...
    async def at_the_desk(self, agent_chat_id: int, owner: int | None = None) -> list[CaseView]: ...
    async def agent_id(self, user_id: int, name: str, role: str) -> int: ...

    async def start_timer(
        self,
        kind: str,
        due_at: datetime,
        now: datetime,
        *,
        case_id: int | None = None,
        chat_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None: ...
    async def cancel_timers(self, case_id: int, kinds: list[str], now: datetime) -> None: ...
    async def running_clocks(self, case_id: int) -> dict[str, datetime]:
        """The case's clocks still running: kind -> when it falls due (the soonest)."""
        ...

    # the satisfaction survey, one per closed case
    async def ask_survey(self, case_id: int, now: datetime, agent_user_id: int | None = None
                         ) -> bool: ...  # fmt: skip
    async def survey(self, case_id: int) -> SurveyView | None: ...
    async def answer_survey(self, case_id: int, now: datetime, **values: Any
                            ) -> SurveyView | None: ...  # fmt: skip

    # reports: a period's figures, grouped by the database (dialogs/reports)
    async def report_figures(self, start: datetime, end: datetime) -> PeriodFigures: ...
