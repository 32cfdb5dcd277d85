"""The shop's JSON HTTP API: the shop's systems move cases as the CLI does (`aftersales case …`),
and a logistics service posts tracking updates.

Routes only: JSON in, a lifecycle `Step` out through `Work.step` (one unit of work: a refused
or failed step keeps nothing), the case (or the refusal) back as JSON. Every route but the
OpenAPI document needs `Authorization: Bearer <API_TOKEN>`. Served by the webhook's server
under /api/ (`run --webhook`), or on API_PORT of its own in polling mode (`bot/app.py`).
Errors are `{"error": code, "message": sentence}`: 400 a body that is not a JSON object or a
field of the wrong type, 401 no or a wrong token, 404 no such case (or waybill, or endpoint),
409 a step the case cannot take now, 413 a body over 64 KiB, 422 a value the step refuses.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.cases import (
    MAX_LIMIT,
    OPERATIONS,
    STATUSES,
    CaseReader,
    case_json,
    normal_case_no,
    step_for,
)
from bot.openapi import OPENAPI, PREFIX
from dialogs.lifecycle import carriers
from dialogs.lifecycle.machine import SYSTEM
from dialogs.lifecycle.steps import Refused, Step
from dialogs.texts import Texts
from dialogs.work import Work
from storage.domain import Actor, CaseStatus

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
# A refusal's code → the HTTP status that says it.
STATUS_OF_REFUSAL = {
    "no_case": 404,
    "not_now": 409,
    "not_a_request": 409,
    "bad_waybill": 422,
    "waybill_used": 422,
    "bad_amount": 422,
    "resolution_needed": 422,
    "note_needed": 422,
}
# Where a parcel is on its way back that a "delivered" update moves to received.
RECEIVABLE = (CaseStatus.AWAITING_RETURN, CaseStatus.IN_TRANSIT)
Handler = Callable[[web.Request], Awaitable[web.Response]]


class _BadRequest(Exception):
    """A request the API cannot read: 400 (413 for a body too large, 404 for no endpoint)."""

    def __init__(self, status: int, code: str, **values: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.values = values


def _bad_field(field: str, kind: str = "", *, missing: bool = False, **more: Any) -> _BadRequest:
    values = {"field": field, "kind": kind, "missing": missing, "maximum": MAX_LIMIT,
              "values": [], **more}  # fmt: skip
    return _BadRequest(400, "bad_field", **values)


class ShopApi:
    def __init__(self, work: Work, texts: Texts, token: str) -> None:
        self.work = work
        self.texts = texts
        self._token = token.encode()
        self.reader = CaseReader(work.units)

    # --- serving ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """An application of its own (polling mode, API_PORT)."""
        app = web.Application(client_max_size=MAX_BODY)
        self.add_to(app)
        return app

    def add_to(self, app: web.Application) -> None:
        """The API's routes added to `app` (the webhook's server), all under /api/."""
        guarded = self._guarded
        app.router.add_get(f"{PREFIX}/openapi.json", self.openapi)
        app.router.add_get(f"{PREFIX}/cases", guarded(self.list_cases))
        app.router.add_get(f"{PREFIX}/cases/{{case_no}}", guarded(self.show_case))
        for operation in OPERATIONS:
            app.router.add_post(f"{PREFIX}/cases/{{case_no}}/{operation}",
                                guarded(functools.partial(self.step, operation)))  # fmt: skip
        app.router.add_post(f"{PREFIX}/tracking", guarded(self.tracking))
        app.router.add_route("*", "/api/{tail:.*}", guarded(self.no_endpoint))

    def _guarded(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.Response:
            if not self._authorised(request):
                challenge = {"WWW-Authenticate": 'Bearer realm="aftersales"'}
                return self._error(request, 401, "unauthorized", "api/unauthorized", {},
                                   challenge)  # fmt: skip
            try:
                return await handler(request)
            except _BadRequest as bad:
                return self._error(request, bad.status, bad.code, f"api/{bad.code}", bad.values)
            except Refused as refused:
                status = STATUS_OF_REFUSAL.get(refused.code, 422)
                return self._error(request, status, refused.code,
                                   f"lifecycle/refused_{refused.code}", refused.values)  # fmt: skip
            except Exception:
                log.exception("HTTP API: %s %s failed", request.method, request.path)
                return self._error(request, 500, "internal", "api/internal", {})

        return run

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)

    def _error(self, request: web.Request, status: int, code: str, key: str,
               values: dict[str, Any], headers: dict[str, str] | None = None
               ) -> web.Response:  # fmt: skip
        message = self.texts.plain(_locale(request), key, **values)
        return _json({"error": code, "message": message}, status, headers)

    # --- reading ------------------------------------------------------------------------------

    async def openapi(self, _request: web.Request) -> web.Response:
        return _json(OPENAPI)

    async def list_cases(self, request: web.Request) -> web.Response:
        query = request.query
        status = query.get("status") or None
        if status is not None and status not in STATUSES:
            raise _bad_field("status", "one_of", values=list(STATUSES))
        limit = _whole(query.get("limit"), "limit", 50, 1, MAX_LIMIT)
        offset = _whole(query.get("offset"), "offset", 0, 0, None)
        cases = await self.reader.list(status, limit, offset)
        return _json({"cases": [case_json(c) for c in cases], "limit": limit, "offset": offset})

    async def show_case(self, request: web.Request) -> web.Response:
        case_no = request.match_info["case_no"]
        found = await self.reader.show(case_no)
        if found is None:
            raise Refused("no_case", case_no=normal_case_no(case_no))
        return _json(case_json(*found))

    async def no_endpoint(self, request: web.Request) -> web.Response:
        raise _BadRequest(404, "no_endpoint", method=request.method, path=request.path)

    # --- steps --------------------------------------------------------------------------------

    async def step(self, operation: str, request: web.Request) -> web.Response:
        body = await _body(request)
        note = _text(body, "note") or ""
        fields: dict[str, Any] = {}
        if operation == "inspected":
            ok = body.get("ok")
            if not isinstance(ok, bool):
                raise _bad_field("ok", "bool", missing="ok" not in body)
            fields["ok"] = ok
        elif operation == "refunded":
            fields["amount"] = _amount(body)
        elif operation == "shipped":
            fields["carrier"], fields["number"] = _text(body, "carrier"), _text(body, "waybill")
        elif operation == "waybill":
            fields["carrier"], fields["number"] = _text(body, "carrier"), _text(body, "number")
        elif operation == "unrepairable":
            fields["resolution"] = _text(body, "resolution")  # anything but the two: 422
        step = step_for(operation, via="api", note=note, **fields)
        case = await self.work.step(normal_case_no(request.match_info["case_no"]), step)
        return _json(case_json(case))

    async def tracking(self, request: web.Request) -> web.Response:
        """A carrier's status update: "delivered" moves the case whose return waybill it is
        to received; every update is kept in the case's events."""
        body = await _body(request)
        number = _text(body, "waybill")
        status = _text(body, "status")
        carrier = _text(body, "carrier")
        if not number:
            raise _bad_field("waybill", "string", missing=True)
        if not status:
            raise _bad_field("status", "string", missing=True)
        at = _time(body, "at")
        number = carriers.normalise(number)
        cases = await self.reader.with_waybill(number)
        if carrier and any(c.carrier == carrier.strip().lower() for c in cases):
            cases = [c for c in cases if c.carrier == carrier.strip().lower()]
        if not cases:
            raise _BadRequest(404, "unknown_waybill", number=number)
        status = status.strip().lower()
        data = {"carrier": carrier, "waybill": number, "status": status,
                "at": at.isoformat() if at else None}  # fmt: skip
        moved = []
        for case in cases:
            await self._note_tracking(case.id, data)
            if status == "delivered" and case.status in RECEIVABLE and case.kind == "request":
                step = Step("received", by=SYSTEM, via="tracking",
                            extra={"tracking": data})  # fmt: skip
                with contextlib.suppress(Refused):  # it moved meanwhile (marked received)
                    moved.append(await self.work.step(case.case_no, step))
        if moved:
            return _json({"changed": True, "case": case_json(moved[0])})
        return _json({"changed": False, "cases": [{"case_no": c.case_no, "status": c.status}
                                                  for c in cases]}, 202)  # fmt: skip

    async def _note_tracking(self, case_id: int, data: dict[str, Any]) -> None:
        now = self.work.clock.now()
        async with self.work.units.open(now) as unit:
            await unit.shop.add_case_event(case_id, Actor.SYSTEM, "tracking", data, now)


# --- reading requests ---------------------------------------------------------------------------


def _locale(request: web.Request) -> str:
    """English, unless the caller prefers Chinese."""
    wanted = request.headers.get("Accept-Language", "").strip().lower()
    return "zh" if wanted.startswith("zh") else "en"


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object posted (an empty body is {}); money stays exact (Decimal)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _BadRequest(413, "too_large", limit=MAX_BODY // 1024)
    raw = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        raw += chunk
        if len(raw) > MAX_BODY:
            raise _BadRequest(413, "too_large", limit=MAX_BODY // 1024)
    if not raw.strip():
        return {}
    try:
        body = json.loads(bytes(raw), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest(400, "not_json") from None
    if not isinstance(body, dict):
        raise _BadRequest(400, "not_json")
    return body


def _text(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad_field(field, "string")
    return value


def _amount(body: dict[str, Any]) -> str | None:
    value = body.get("amount")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _bad_field("amount", "amount")
    return str(value)


def _time(body: dict[str, Any], field: str) -> datetime | None:
    value = _text(body, field)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _bad_field(field, "time") from None
    if moment.tzinfo is None:
        raise _bad_field(field, "time")
    return moment


def _whole(text: str | None, field: str, default: int, low: int, high: int | None) -> int:
    if text in (None, ""):
        return default
    kind = "limit" if high is not None else "offset"
    try:
        value = int(text)
    except ValueError:
        raise _bad_field(field, kind) from None
    if value < low or (high is not None and value > high):
        raise _bad_field(field, kind)
    return value


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers,
                             dumps=functools.partial(json.dumps, ensure_ascii=False))  # fmt: skip
