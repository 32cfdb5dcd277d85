"""The shop without Telegram: policy, texts, the agents' desk, units of work and the case
lifecycle, built from the settings. The bot's runtime (`bot.app`), the CLI and the HTTP API
build on it; nothing here imports aiogram, so `aftersales case …` starts in a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.errors import StartupError
from bot.settings import Settings, require_link_secret
from bot.warehouses import load_warehouses
from dialogs.agents.handler import Agents
from dialogs.agents.topic import DeskInfo
from dialogs.clock import Clock
from dialogs.clocks import Clocks
from dialogs.customer import Conversations, ShopInfo
from dialogs.faq import DEFAULT_FAQ, Faq, FaqError
from dialogs.lifecycle.steps import Lifecycle
from dialogs.links import LinkSigner
from dialogs.policy import Policy, load_policy
from dialogs.texts import Texts
from dialogs.work import Work, agents_handler
from storage.db import Database
from storage.unit import Units

log = logging.getLogger(__name__)


@dataclass
class Shop:
    """What works on cases without Telegram: the bot's runtime, the CLI and the HTTP API."""

    policy: Policy
    texts: Texts
    desk: DeskInfo
    units: Units
    work: Work
    lifecycle: Lifecycle


def build_shop(settings: Settings, db: Database, clock: Clock) -> Shop:
    policy = load_policy(settings.policy)
    # Findings about the file only: a year without a holiday schedule is logged by the
    # calendar once, when a deadline is actually counted into it, not at every start.
    for warning in policy.warnings:
        log.warning("policy %s: %s", policy.name, warning)
    texts = Texts(timezone=settings.timezone, default_locale=settings.default_locale)
    desk = DeskInfo(
        agent_chats=tuple(settings.agent_chat_ids),
        agents=tuple(settings.agent_ids),
        supervisors=tuple(settings.supervisor_ids),
        locale=settings.default_locale,
    )
    warehouses = load_warehouses(settings, policy)
    lifecycle = Lifecycle(texts, policy, desk)
    conversations = Conversations(
        policy=policy,
        texts=texts,
        info=ShopInfo(
            returns=warehouses.get(None),
            warehouses=warehouses,
            lifecycle=lifecycle,
            shop_name=settings.shop_name,
            links=LinkSigner(require_link_secret(settings), ttl_days=settings.link_ttl_days),
            desk=desk,
            faq=load_faq(settings.faq),
        ),
    )
    units = Units(db, settings.timezone)
    agents = Agents(texts, policy, desk, warehouses, lifecycle)
    work = Work(units, conversations, Clocks(texts, desk, lifecycle), clock,
                group=agents_handler(agents), lifecycle=lifecycle)  # fmt: skip
    return Shop(policy, texts, desk, units, work, lifecycle)


def load_faq(setting: str) -> Faq | None:
    """The FAQ the FAQ setting names; a bad file is one sentence, not a traceback."""
    if setting.strip().lower() == "none":
        return None
    path = DEFAULT_FAQ if setting.strip().lower() in ("", "default") else setting
    try:
        return Faq.load(path)
    except FaqError as error:
        raise StartupError(f"FAQ: {error}") from None
