"""The customer conversation: identification, the request step by step, the decision.

`Conversations.handle(state, event, shop, now)` runs one turn (`turn.py`); each step lives in
its own module and `steps.py` lists them; the flow table is `dialogs/flow.py`.
"""

from __future__ import annotations

from datetime import datetime

from dialogs.events import Event, Outgoing
from dialogs.flow import REQUEST_PATH, Flow
from dialogs.policy import Policy
from dialogs.shop import ShopPort
from dialogs.texts import Texts

from . import commands
from .commands import COMMANDS
from .evidence import MAX_EVIDENCE, evidence_slots
from .state import Context, ConversationState, Draft
from .turn import ReturnAddress, ShopInfo, Turn, Warehouses, claims_since

__all__ = [
    "COMMANDS",
    "MAX_EVIDENCE",
    "Context",
    "ConversationState",
    "Conversations",
    "Draft",
    "ReturnAddress",
    "ShopInfo",
    "Warehouses",
    "evidence_slots",
]


class Conversations:
    """Runs a `Turn` per event with the long-lived collaborators (policy, texts, flow)."""

    def __init__(
        self, *, policy: Policy, texts: Texts, info: ShopInfo, flow: Flow | None = None
    ) -> None:
        self.policy = policy
        self.texts = texts
        self.info = info
        self.flow = flow or Flow()

    async def handle(
        self, conv: ConversationState, event: Event, shop: ShopPort, now: datetime
    ) -> list[Outgoing]:
        """One event; `conv` is changed in place. `now`: the instant of the caller's unit."""
        turn = Turn(conv, event, shop=shop, policy=self.policy, texts=self.texts,
                    flow=self.flow, info=self.info, now=now)  # fmt: skip
        await commands.run(turn)
        return turn.out

    def order_ahead(self, conv: ConversationState) -> int | None:
        """The order the conversation's next turn will read: its request's, while one is being
        made (the caller may read it ahead, with others, in one statement)."""
        return conv.context.draft.order_id if conv.state in _MAKING_REQUEST else None

    def claims_since(self, now: datetime) -> datetime:
        """Since when a customer's claims count as prior claims (`ItemFacts.prior_claims`)."""
        return claims_since(self.policy, now)


_MAKING_REQUEST = frozenset(state.value for state in REQUEST_PATH)
