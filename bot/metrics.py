"""`GET /healthz` and `GET /metrics` (Prometheus text) for the operator.

Counters and the latency histogram are bumped where things happen (bot/outbox.py,
bot/processor.py); the database's figures (inbox lag, outbox backlog, cases by status, timers
due) are read at scrape time (`storage.repos.OpsRepo`). Each runtime has a registry of its
own, so several runtimes (tests) never share counters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from dialogs.clock import Clock
from storage.db import Database
from storage.repos import OpsRepo

log = logging.getLogger(__name__)
PING_TIMEOUT = 5.0  # seconds the database has to answer `SELECT 1`
# Stored -> processed, seconds: a reply is meant to leave within ~100 ms.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.telegram_429 = Counter(
            "aftersales_telegram_429", "Telegram answered 429 (flood control)", registry=r
        )
        self.outbox_retries = Counter(
            "aftersales_outbox_retries", "outbox calls scheduled again after an error", registry=r
        )
        self.handler_errors = Counter(
            "aftersales_handler_errors", "updates whose handling failed", registry=r
        )
        self.update_latency = Histogram(
            "aftersales_update_latency_seconds", "an update's time from stored to processed",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.inbox_pending = Gauge(
            "aftersales_inbox_pending", "stored updates not yet processed", registry=r
        )
        self.inbox_oldest_age = Gauge(
            "aftersales_inbox_oldest_age_seconds", "age of the oldest unprocessed update",
            registry=r,
        )  # fmt: skip
        self.outbox_pending = Gauge(
            "aftersales_outbox_pending", "messages waiting to be sent", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "aftersales_outbox_oldest_age_seconds", "age of the oldest message waiting",
            registry=r,
        )  # fmt: skip
        self.timers_due = Gauge("aftersales_timers_due", "timers due and not fired", registry=r)
        self.cases = Gauge("aftersales_cases", "cases by status", ["status"], registry=r)


class Health:
    """The endpoints, given the database and whether the intake and the outbox are alive."""

    def __init__(self, db: Database, clock: Clock, metrics: Metrics) -> None:
        self.db = db
        self.clock = clock
        self.metrics = metrics
        # Filled in once the parts run: each says whether its task is still alive.
        self.intake: Callable[[], bool] = lambda: False
        self.outbox: Callable[[], bool] = lambda: False

    async def database_ok(self) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT), self.db.read() as session:
                await OpsRepo(session).ping()
        except Exception as exc:
            log.warning("health: the database does not answer: %s", type(exc).__name__)
            return False
        return True

    async def healthz(self, _request: web.Request) -> web.Response:
        report = {
            "ok": False,
            "database": await self.database_ok(),
            "intake": self.intake(),
            "outbox": self.outbox(),
        }
        report["ok"] = report["database"] and report["intake"] and report["outbox"]
        return web.json_response(report, status=200 if report["ok"] else 503)

    async def scrape(self, _request: web.Request) -> web.Response:
        m = self.metrics
        try:
            async with asyncio.timeout(PING_TIMEOUT), self.db.read() as session:
                figures = await OpsRepo(session).figures(self.clock.now())
        except Exception as exc:  # the counters still tell something
            log.warning("metrics: the database's figures are missing: %s", type(exc).__name__)
        else:
            m.inbox_pending.set(figures.inbox_pending)
            m.inbox_oldest_age.set(figures.inbox_oldest_age)
            m.outbox_pending.set(figures.outbox_pending)
            m.outbox_oldest_age.set(figures.outbox_oldest_age)
            m.timers_due.set(figures.timers_due)
            m.cases.clear()
            for status, n in figures.cases_by_status.items():
                m.cases.labels(status=status).set(n)
        body = generate_latest(m.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.scrape)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024)  # GETs only
        self.add_to(app)
        return app


def task_alive(task: asyncio.Task[None] | None) -> Callable[[], bool]:
    return lambda: task is not None and not task.done()
