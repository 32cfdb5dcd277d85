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
    RESOLUTIONS,
    STATUSES,
    CaseReader,
    case_json,
    normal_case_no,
    step_for,
)
from dialogs.lifecycle import carriers
from dialogs.lifecycle.machine import SYSTEM
from dialogs.lifecycle.steps import Refused, Step
from dialogs.texts import Texts
from dialogs.work import Work
from storage.domain import Actor, CaseStatus

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
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
TRACKING_STATUSES = ("picked_up", "in_transit", "out_for_delivery", "delivered", "exception",
                     "returned")  # fmt: skip
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


# --- the OpenAPI document -----------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int) -> dict[str, Any]:
    what = {200: "the case after the step", 202: "accepted; nothing changed",
            400: "not a JSON object, or a field of the wrong type",
            401: "no bearer token, or a wrong one", 404: "no such case",
            409: "the case cannot take this step now (not_now, not_a_request)",
            413: "the body is larger than 64 KiB",
            422: "a value the step refuses (bad_waybill, waybill_used, bad_amount, "
                 "resolution_needed, note_needed)"}  # fmt: skip
    return {str(code): {"description": what[code], "content": {
        "application/json": {"schema": _ref("Error")}}} for code in codes}  # fmt: skip


def _answers(ok: str, *errors: int) -> dict[str, Any]:
    return {"200": {"description": ok, "content": {"application/json": {"schema": _ref("Case")}}},
            **_errors(*errors)}  # fmt: skip


_STEP_ERRORS = (400, 401, 404, 409, 413, 422)
_NOTE = {"note": {"type": "string", "description": "kept in the case's events and its topic"}}
_STEP_BODIES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "received": ("The returned parcel arrived at the warehouse.", {}, []),
    "inspected": ("The item was checked: passed, or failed with a note (man-made damage, "
                  "a different item: the request is then not covered).",
                  {"ok": {"type": "boolean"}}, ["ok"]),
    "refunded": ("The refund was paid, to the original payment method. Without an amount: "
                 "the full amount due.",
                 {"amount": {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$",
                             "examples": ["12.50"]}}, []),
    "shipped": ("A replacement, reshipped parts or the repaired item left for the customer.",
                {"carrier": _ref("Carrier"), "waybill": {"type": "string"}},
                ["carrier", "waybill"]),
    "waybill": ("The shop booked the return parcel (T17): the customer gets the waybill.",
                {"carrier": _ref("Carrier"), "number": {"type": "string"}},
                ["carrier", "number"]),
    "unrepairable": ("The repair cannot be done: an exchange or a refund instead.",
                     {"resolution": {"type": "string", "enum": list(RESOLUTIONS)}},
                     ["resolution"]),
    "cancel": ("Cancel the request (before the goods are on their way).", {}, []),
    "close": ("Close a finished or refused request; the customer is asked to rate it.", {}, []),
}  # fmt: skip


def _step_path(operation: str) -> dict[str, Any]:
    summary, props, required = _STEP_BODIES[operation]
    schema: dict[str, Any] = {"type": "object", "properties": {**props, **_NOTE}}
    if required:
        schema["required"] = required
    return {"post": {
        "operationId": operation, "summary": summary, "tags": ["steps"],
        "parameters": [{"$ref": "#/components/parameters/case_no"}],
        "requestBody": {"required": bool(required),
                        "content": {"application/json": {"schema": schema}}},
        "responses": _answers("the case after the step", *_STEP_ERRORS),
    }}  # fmt: skip


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "aftersales: the shop's API",
        "version": "1",
        "description": "Move after-sales cases as the shop (the same steps as `aftersales case`), "
        "and post carriers' tracking updates. Authenticate with `Authorization: Bearer "
        "<API_TOKEN>`. Errors are {\"error\": code, \"message\": sentence}; a refused step "
        "changes nothing.",
    },
    "servers": [{"url": PREFIX}],
    "security": [{"bearer": []}],
    "paths": {
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document (no token needed).",
            "security": [], "responses": {"200": {"description": "OpenAPI 3.1",
                                                  "content": {"application/json": {}}}},
        }},
        "/cases": {"get": {
            "operationId": "listCases", "summary": "Cases, oldest first.", "tags": ["cases"],
            "parameters": [
                {"name": "status", "in": "query", "schema": _ref("Status")},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                            "default": 50}},
                {"name": "offset", "in": "query",
                 "schema": {"type": "integer", "minimum": 0, "default": 0}},
            ],
            "responses": {
                "200": {"description": "a page of cases", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {
                        "cases": {"type": "array", "items": _ref("Case")},
                        "limit": {"type": "integer"}, "offset": {"type": "integer"}}}}}},
                **_errors(400, 401),
            },
        }},
        "/cases/{case_no}": {"get": {
            "operationId": "showCase", "summary": "One case with its events (the audit trail).",
            "tags": ["cases"], "parameters": [{"$ref": "#/components/parameters/case_no"}],
            "responses": _answers("the case and its events", 401, 404),
        }},
        **{f"/cases/{{case_no}}/{op}": _step_path(op) for op in OPERATIONS},
        "/tracking": {"post": {
            "operationId": "tracking", "tags": ["tracking"],
            "summary": "A carrier's status update for a return parcel. `delivered` moves the "
            "case whose return waybill it is to received (200 with the case); any other "
            "status, or a case past that point, is kept in the case's events (202).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["waybill", "status"], "properties": {
                    "carrier": _ref("Carrier"),
                    "waybill": {"type": "string"},
                    "status": {"type": "string",
                               "examples": list(TRACKING_STATUSES)},
                    "at": {"type": "string", "format": "date-time"}}}}}},
            "responses": {
                "200": {"description": "the case moved to received", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "changed": {"const": True}, "case": _ref("Case")}}}}},
                "202": {"description": "kept; the case did not change", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "changed": {"const": False}, "cases": {"type": "array"}}}}}},
                **_errors(400, 401, 413),
                "404": {"description": "no case has this return waybill", "content": {
                    "application/json": {"schema": _ref("Error")}}},
            },
        }},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "parameters": {"case_no": {"name": "case_no", "in": "path", "required": True,
                                   "schema": {"type": "string",
                                              "examples": ["AS-20261203-0001"]}}},
        "schemas": {
            "Status": {"type": "string", "enum": list(STATUSES)},
            "Carrier": {"type": "string", "enum": [c.code for c in carriers.CARRIERS]},
            "Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string", "examples": ["not_now", "bad_waybill"]},
                "message": {"type": "string"}}},
            "Waybill": {"type": ["object", "null"], "properties": {
                "carrier": {"type": "string"}, "number": {"type": "string"}}},
            "Case": {"type": "object", "properties": {
                "case_no": {"type": "string"}, "kind": {"enum": ["request", "question"]},
                "status": _ref("Status"), "service": {"type": ["string", "null"]},
                "reason": {"type": ["string", "null"]}, "outcome": {"type": "string"},
                "order_no": {"type": ["string", "null"]}, "item": {"type": ["string", "null"]},
                "quantity": {"type": "integer"}, "description": {"type": "string"},
                "locale": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "deadline_at": {"type": ["string", "null"], "format": "date-time"},
                "desk": {"type": ["string", "null"]}, "dispute": {"type": ["string", "null"]},
                "owner": {"type": ["string", "null"]},
                "shipping_paid_by": {"type": ["string", "null"]},
                "warehouse": {"type": ["string", "null"]},
                "return_address": {"type": ["string", "null"]},
                "return_waybill": _ref("Waybill"), "outbound_waybill": _ref("Waybill"),
                "resolution": {"type": ["string", "null"]},
                "refund_amount": {"type": ["string", "null"]},
                "refunded_at": {"type": ["string", "null"], "format": "date-time"},
                "closed_at": {"type": ["string", "null"], "format": "date-time"},
                "next": {"type": "array", "items": {"enum": list(OPERATIONS)},
                         "description": "what the shop can do to the case now"},
                "events": {"type": "array", "items": {"type": "object", "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "actor": {"enum": [a.value for a in Actor]},
                    "actor_id": {"type": ["integer", "null"]},
                    "kind": {"type": "string"}, "data": {"type": "object"}}}},
            }},
        },
    },
}  # fmt: skip
