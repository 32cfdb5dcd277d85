"""The sandbox's configuration and own texts (a developer tool, so plain English here), and
its demo-data digest. Light to import: the banner shows while aiogram still loads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.db import Database
from storage.demo import CUSTOMERS
from storage.models import Customer, Order


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    database: Path
    evidence_dir: Path
    log_file: Path
    language: str = "zh"
    fresh: bool = True  # remove the database first
    ansi: bool = False
    reply_timeout: float = 15.0  # how long to wait for the bot before showing the prompt


@dataclass(frozen=True, slots=True)
class Persona:
    """The demo customer the person at the keyboard plays."""

    telegram_id: int
    name: str
    phone: str
    language: str


# Fixed Telegram ids: with a kept --database the bot recognises the same chat on the next run.
PERSONAS = {
    "zh": Persona(7_000_000_001, CUSTOMERS[0]["name"], CUSTOMERS[0]["phone"], "zh"),
    "en": Persona(7_000_000_003, CUSTOMERS[2]["name"], CUSTOMERS[2]["phone"], "en"),
}
AGENTS_TITLE = "售后客服 / After-sales agents"
AGENT_NAME = "Agent Zhang"
AGENT_ROLE = "an agent and a supervisor"

HELP = """\
Sandbox commands (anything else you type is sent to the bot as a message):
  N              press button N of the latest message with buttons
  /start /menu /status /human /lang /help ...   the bot's own commands, as in Telegram
  :contact       share your own phone number (what "📱 Share my phone number" does)
  :contact PHONE share another number as if it were yours, e.g. :contact +447700900123
  :photo [PATH]  send a sample photo (or the image file at PATH)
  :album [N]     send N sample photos as one album (2-10, default 3)
  :say TEXT      send TEXT as it is (e.g. a number that would otherwise press a button)
  :lang zh|en    change your Telegram app's language (the bot's own switch is /lang)
  :me            who you are, and the demo customers' phones and orders to try
  :help          this list
  :quit          leave (or Ctrl-D / Ctrl-C)
Being the agent too (Agent Zhang, an agent and a supervisor in the agents' group):
  :agents        become the agent: the group's topics, one per case handed to a person
  :topic N       open topic N (or type N right after the list). What you type goes there as
                 the agent: to the customer, or a note if it starts with //; /take /approve
                 /reject /offer /ask /back /close /card /help are the desk's commands;
                 N presses the card's button N. :say :photo :album work there too
  :general       write in the group's General chat (/queue, /mine)
  :customer      be the customer again (the prompt shows who and where you are)"""

TOPIC_HINT = (
    "You are Agent Zhang in this case's topic. What you type is sent to the customer; "
    "a line starting with // is a note only agents see; /help lists the desk's commands; "
    "N presses the card's button N. :agents lists the topics, :customer makes you the "
    "customer again."
)
GENERAL_HINT = (
    "You are Agent Zhang in the group's General chat: /queue lists the open cases, /mine "
    "yours, /help the commands. :agents lists the topics, :customer makes you the customer "
    "again."
)


def banner(config: SandboxConfig) -> list[str]:
    persona = PERSONAS[config.language]
    where = "a fresh copy, removed at exit" if config.fresh else "kept"
    return [
        "After-sales bot sandbox: the real bot, offline, against a local Telegram emulator.",
        f"You are {persona.name} ({persona.phone}), a demo customer; "
        f"your Telegram app speaks '{persona.language}'.",
        "Type as you would in Telegram; /start begins. Buttons are numbered: "
        "type the number to press one.",
        ":contact shares your phone number, :photo sends a photo, :me lists demo orders, "
        ":help lists all commands, :quit leaves.",
        "When a case goes to a person, :agents makes you that person (Agent Zhang, in the "
        "agents' group); :customer makes you the customer again.",
        f"Database: {config.database} ({where}); bot log: {config.log_file}",
    ]


async def demo_digest(db: Database, now: datetime) -> list[str]:
    """The demo customers with their phones and orders, read from the database."""
    phones = [c["phone"] for c in CUSTOMERS]
    async with db.read() as session:
        customers = (
            await session.scalars(
                select(Customer).where(Customer.phone.in_(phones)).order_by(Customer.id)
            )
        ).all()
        orders = (
            await session.scalars(
                select(Order)
                .where(Order.customer_id.in_([c.id for c in customers]))
                .order_by(Order.placed_at.desc())
                .options(selectinload(Order.items))
            )
        ).all()
        # Read inside the session: its closing rollback expires the loaded objects.
        return list(_digest_lines(customers, orders, now))


def _digest_lines(
    customers: Sequence[Customer], orders: Sequence[Order], now: datetime
) -> Iterator[str]:
    for customer in customers:
        yield f"  {customer.name}  {customer.phone}  ({customer.language})"
        for order in (o for o in orders if o.customer_id == customer.id):
            items = "; ".join(f"{i.name} [{i.category}]" for i in order.items)
            yield f"    {order.order_no}  {_stage(order, now)}, {order.payment_method}"
            yield f"      {items}"


def _stage(order: Order, now: datetime) -> str:
    for label, at in (
        ("delivered", order.delivered_at),
        ("shipped", order.shipped_at),
        ("paid", order.paid_at),
    ):
        if at is not None and order.status == label:
            return f"{label} {_ago(now - at)} ago"
    return order.status


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86_400:
        days = round(seconds / 86_400)
        return f"{days} day{'s' if days != 1 else ''}"
    hours = max(1, round(seconds / 3600))
    return f"{hours} hour{'s' if hours != 1 else ''}"
