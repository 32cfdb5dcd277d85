"""The composition root: settings in, a running bot out (polling or webhook).

Everything long-lived is built once here and passed down: database, policy, templates, the
unit of work, the aiogram Bot, the processor, the outbox and timer workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlparse

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats
from aiohttp import web

from bot import pruning
from bot.api import PREFIX as API_PREFIX
from bot.api import ShopApi
from bot.claims import Claims
from bot.errors import StartupError
from bot.files import EvidenceStore
from bot.intake import ALLOWED_UPDATES, REVOKED, Inbox, Polling, webhook_app
from bot.metrics import Health, Metrics, task_alive
from bot.outbox import OutboxWorker
from bot.processor import Processor
from bot.ratelimit import Limits, RateLimiter
from bot.reports import digest as report_digest
from bot.responses import KEPT  # noqa: F401  (imported for its effect: see the module)
from bot.roles import Roles
from bot.settings import Settings, require_api_token, require_webhook_secret
from bot.shared_limits import SharedRateLimiter
from bot.shop import Shop, build_shop, load_faq  # noqa: F401  (Shop, load_faq: for callers)
from bot.timers import TimerWorker
from bot.topics import Topics
from dialogs.clock import Clock, SystemClock
from dialogs.customer import COMMANDS
from dialogs.policy import Policy
from dialogs.texts import Texts
from dialogs.work import Work
from storage import migrate
from storage.db import Database, outlasting_outages
from storage.locks import AlreadyRunning, hold_instance_lock
from storage.repos import OutboxRepo

log = logging.getLogger(__name__)
TELEGRAM = "https://api.telegram.org"
SHUTDOWN_GRACE = 10.0
STARTUP_OUTAGE = 60.0  # seconds start-up waits for a database that is restarting
_T = TypeVar("_T")
POLL_TIMEOUT = 25  # seconds a getUpdates call waits for news
SETTLE = 3.0  # seconds a webhook update waits at most for a lower one still on its way


def make_bot(token: str, api_base: str) -> Bot:
    session = None
    if api_base.rstrip("/") != TELEGRAM:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    bot: Bot
    policy: Policy
    texts: Texts
    work: Work
    processor: Processor
    outbox: OutboxWorker
    timers: TimerWorker
    inbox: Inbox
    metrics: Metrics
    health: Health
    timers_task: asyncio.Task[None] | None = None
    claims_task: asyncio.Task[None] | None = None
    stopping: asyncio.Event | None = None


def build(settings: Settings, *, clock: Clock | None = None, bot: Bot | None = None) -> Runtime:
    if settings.bot_token is None and bot is None:
        raise SystemExit("BOT_TOKEN is not set. To try the bot offline, run: aftersales sandbox")
    clock = clock or SystemClock()
    db = Database(settings.database_url)
    bot = bot or make_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base)  # type: ignore[union-attr]
    shop = build_shop(settings, db, clock)
    texts = shop.texts
    limiter = RateLimiter(Limits.per_second(settings.telegram_rate_overall,
                                            settings.telegram_rate_per_chat,
                                            settings.telegram_rate_per_group))  # fmt: skip
    metrics = Metrics()
    outbox = OutboxWorker(db, bot, limiter=limiter, clock=clock, topics=Topics(db, bot, texts),
                          metrics=metrics)  # fmt: skip
    work = shop.work
    work.on_outbox = outbox.wake
    evidence = EvidenceStore(bot, settings.evidence_dir, shop.policy.evidence_max_mb * 1024 * 1024)
    roles = Roles(bot, shop.desk.agents, shop.desk.supervisors)
    processor = Processor(
        work, shop.units, clock, texts, evidence=evidence, bot=bot, on_outbox=outbox.wake,
        roles=roles, metrics=metrics,
    )  # fmt: skip
    timers = TimerWorker(db, clock, processor.submit_timer)
    inbox = Inbox(db, clock, processor.submit)
    return Runtime(settings, clock, db, bot, shop.policy, texts, work, processor, outbox, timers,
                   inbox, metrics, Health(db, clock, metrics))  # fmt: skip


def as_webhook_worker(rt: Runtime, port: int) -> None:
    """Webhook mode: deliveries run in parallel, so an update waits a moment for one with a
    lower id still on its way; on PostgreSQL other workers may run beside this one, so lanes
    are claimed (`bot/claims.py`) and Telegram's limits are shared (`bot/shared_limits.py`).
    The worker is named by its host and port: started again after a crash, it knows what its
    former self left half done and need not wait for those leases to run out."""
    rt.processor.settle = SETTLE
    rt.inbox.check_order = True
    rt.outbox.worker_id = f"{socket.gethostname()[:30]}:{port}"
    if not rt.db.is_postgresql:
        return  # SQLite: one bot per file (`one_instance`)
    claims = Claims(rt.db, rt.clock, rt.outbox.worker_id)
    rt.processor.claims = claims
    rt.inbox.claims = claims
    rt.outbox.limiter = SharedRateLimiter(rt.db, rt.outbox.limiter.limits)


async def register_commands(rt: Runtime) -> None:
    """The command menu in the customer's language (Telegram picks by language_code)."""
    scope = BotCommandScopeAllPrivateChats()
    for language in ("zh", "en", None):
        locale = language or rt.texts.default_locale
        commands = [
            BotCommand(command=name, description=rt.texts.plain(locale, f"commands/{name}"))
            for name in COMMANDS
        ]
        await rt.bot.set_my_commands(commands, scope=scope, language_code=language)


async def start(rt: Runtime) -> asyncio.Task[None]:
    """Migrations, commands, recovery of unfinished updates, the clocks; returns the outbox
    task (the timers' task is `rt.timers_task`)."""
    await _patiently(lambda: asyncio.to_thread(migrate.upgrade, rt.settings.database_url))
    try:
        me = await rt.bot.get_me()
    except TelegramUnauthorizedError:
        raise StartupError(REVOKED, exit_code=1) from None
    log.info("running as @%s (policy %s)", me.username, rt.policy.name)
    doubtful = await _patiently(lambda: _give_up_own(rt))
    if doubtful:
        log.error("%d messages this worker was sending when it stopped are in doubt; "
                  "not sent again", doubtful)  # fmt: skip
    await register_commands(rt)
    outbox_task = asyncio.create_task(rt.outbox.run(), name="outbox")
    rt.health.outbox = task_alive(outbox_task)
    recovered = await _patiently(rt.processor.recover)
    if recovered:
        log.info("resuming %d updates stored before the last stop", recovered)
    rt.timers_task = asyncio.create_task(rt.timers.run(), name="timers")
    if rt.processor.claims is not None:
        rt.stopping = asyncio.Event()
        keep = rt.processor.claims.keep(rt.processor.start_lane, rt.stopping,
                                        rt.processor.working_lanes)  # fmt: skip
        rt.claims_task = asyncio.create_task(keep, name="lane claims")
    pruning.start(rt.db, rt.clock, rt.settings, rt.policy)  # retention, once a day
    # What start-up made (modules, templates, the policy) lives as long as the process: out
    # of the collector's way, so the first full collection under load (360-500 ms measured
    # by bench/latency_probe.py) does not walk it.
    gc.collect()
    gc.freeze()
    await _patiently(lambda: report_digest.schedule(rt.db, rt.clock, rt.settings, rt.policy))
    return outbox_task


async def _give_up_own(rt: Runtime) -> int:
    async with rt.db.transaction() as session:
        return await OutboxRepo(session).give_up_own(rt.outbox.worker_id)


async def _patiently(step: Callable[[], Awaitable[_T]]) -> _T:
    """A start-up step that waits out a database restart (a worker started again while the
    server is down, as a supervisor does) instead of exiting; other errors stop the start."""
    return await outlasting_outages(step, STARTUP_OUTAGE, pause=1.0)


async def stop(rt: Runtime, outbox_task: asyncio.Task[None]) -> None:
    """Finish the updates in hand, send what they produced, then close."""
    rt.timers.stop()
    if rt.timers_task is not None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(rt.timers_task, SHUTDOWN_GRACE)
    if not await rt.processor.drain(SHUTDOWN_GRACE):
        log.warning("stopping with %d updates in hand; they resume on the next start",
                    rt.processor.in_hand)  # fmt: skip
    if rt.claims_task is not None and rt.stopping is not None:
        rt.stopping.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await rt.claims_task
    if rt.processor.claims is not None:  # the other workers need not wait for the leases
        with contextlib.suppress(Exception):
            await rt.processor.claims.release_all()
    if not outbox_task.done():
        await rt.outbox.stop(SHUTDOWN_GRACE)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await outbox_task
    await pruning.stop(rt.db)
    await rt.bot.session.close()
    await rt.db.dispose()


def _on_signals(loop: asyncio.AbstractEventLoop, callback: object) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, callback)  # type: ignore[arg-type]


@contextlib.contextmanager
def one_instance(settings: Settings) -> Iterator[None]:
    """Refuse a second bot on the same SQLite file (PostgreSQL takes several workers)."""
    try:
        with hold_instance_lock(settings.database_url):
            yield
    except AlreadyRunning as exc:
        raise StartupError(
            f"another aftersales bot ({exc.holder}) is already running on {exc.database}; "
            "run one bot per SQLite file, or use PostgreSQL (DATABASE_URL) for several workers",
            exit_code=1,
        ) from None


async def _serve(
    rt: Runtime,
    outbox_task: asyncio.Task[None],
    intake: asyncio.Task[None] | None,
    stopped: asyncio.Event,
) -> None:
    """Wait for a stop signal, or for a part that must never end on its own (the poller, the
    outbox): then stop as gracefully as possible and say why. The process never lives on with
    its intake dead."""
    signal_wait = asyncio.ensure_future(stopped.wait())
    parts = [p for p in (intake, outbox_task, rt.timers_task) if p is not None]
    await asyncio.wait([signal_wait, *parts], return_when=asyncio.FIRST_COMPLETED)
    signal_wait.cancel()
    ended = next((p for p in parts if p.done()), None) if not stopped.is_set() else None
    failure = (ended.exception() if not ended.cancelled() else None) if ended else None
    if intake is not None and not intake.done():
        # Told to stop, the poller ends its long poll itself (nothing received is lost).
        await asyncio.wait([intake], timeout=SHUTDOWN_GRACE)
        intake.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await intake
    await stop(rt, outbox_task)
    if ended is None:
        return
    if isinstance(failure, StartupError):
        raise failure
    raise StartupError(
        f"the bot stopped because its {ended.get_name()} ended: "
        f"{type(failure).__name__ if failure else 'no error'}: {failure or 'it returned'}",
        exit_code=1,
    ) from failure


async def run_polling(
    rt: Runtime, *, until: asyncio.Event | None = None, poll_timeout: int = POLL_TIMEOUT
) -> None:
    api_token = require_api_token(rt.settings, webhook=False)
    with one_instance(rt.settings):
        # One poller per bot: named by its host, it knows its former self after a crash.
        rt.outbox.worker_id = f"{socket.gethostname()[:30]}:polling"
        outbox_task = await start(rt)
        api = await _serve_api(rt, api_token, outbox_task) if api_token else None
        health = None
        try:
            if rt.settings.health_port is not None:
                health = await _serve_health(rt, outbox_task)
            await rt.bot.delete_webhook(drop_pending_updates=False)
            polling = Polling(rt.bot, rt.inbox, timeout=poll_timeout)
            stopped = until or asyncio.Event()
            _on_signals(asyncio.get_running_loop(), stopped.set)
            poll_task = asyncio.create_task(_poll(polling, stopped), name="polling")
            rt.health.intake = task_alive(poll_task)
            await _serve(rt, outbox_task, poll_task, stopped)
        finally:
            for runner in (health, api):
                if runner is not None:
                    await runner.cleanup()


async def _serve_health(rt: Runtime, outbox_task: asyncio.Task[None]) -> web.AppRunner:
    """/healthz and /metrics on HEALTH_HOST:HEALTH_PORT (polling mode)."""
    host, port = rt.settings.health_host, rt.settings.health_port
    runner = web.AppRunner(rt.health.app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        await stop(rt, outbox_task)
        raise StartupError(f"HEALTH_PORT: cannot listen on {host}:{port}: {exc.strerror or exc}",
                           exit_code=1) from None  # fmt: skip
    log.info("/healthz and /metrics listening on %s:%s", host, port)
    return runner


async def _serve_api(rt: Runtime, token: str, outbox_task: asyncio.Task[None]) -> web.AppRunner:
    """The shop's HTTP API on API_HOST:API_PORT of its own (polling mode)."""
    host, port = rt.settings.api_host, rt.settings.api_port
    runner = web.AppRunner(ShopApi(rt.work, rt.texts, token).app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        await stop(rt, outbox_task)
        raise StartupError(f"API_PORT: cannot listen on {host}:{port}: {exc.strerror or exc}",
                           exit_code=1) from None  # fmt: skip
    log.info("the shop's HTTP API listening on %s:%s%s", host, port, API_PREFIX)
    return runner


async def _poll(polling: Polling, stopped: asyncio.Event) -> None:
    stopping = asyncio.create_task(stopped.wait())
    stopping.add_done_callback(lambda _: polling.stop())
    try:
        await polling.run()
    finally:
        stopping.cancel()


async def run_webhook(
    rt: Runtime, *, host: str, port: int, until: asyncio.Event | None = None
) -> None:
    settings = rt.settings
    if not settings.webhook_url:
        raise StartupError(
            "WEBHOOK_URL is not set: it is the public https address Telegram posts to"
        )
    secret = require_webhook_secret(settings)  # never open to anyone who finds the URL
    api_token = require_api_token(settings, webhook=True)
    with one_instance(settings):
        as_webhook_worker(rt, port)
        outbox_task = await start(rt)
        path = urlparse(settings.webhook_url).path or "/"
        app = webhook_app(rt.inbox, secret, path)
        rt.health.add_to(app)
        if api_token:  # the shop's HTTP API on the same server, under /api/
            ShopApi(rt.work, rt.texts, api_token).add_to(app)
            log.info("the shop's HTTP API served under %s", API_PREFIX)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            await rt.bot.set_webhook(
                settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
            rt.health.intake = lambda: True  # the server answering /healthz is the intake
            log.info("webhook listening on %s:%s%s (/healthz, /metrics)", host, port, path)
            stopped = until or asyncio.Event()
            _on_signals(asyncio.get_running_loop(), stopped.set)
            # The webhook stays registered: a restart picks up where this process stopped.
            await _serve(rt, outbox_task, None, stopped)
        finally:
            await runner.cleanup()
