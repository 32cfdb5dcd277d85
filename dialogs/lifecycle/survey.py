"""The satisfaction survey (T9, T20): asked once when a case closes. (Being built.)"""

from __future__ import annotations

from datetime import datetime

from dialogs.events import Outgoing
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.views import CaseView


async def ask(shop: ShopPort, texts: Texts, case: CaseView, now: datetime,
              out: list[Outgoing]) -> None:  # fmt: skip
    """Ask the customer to rate the closed case (once per case)."""
