"""The shop's HTTP API (bot/api.py) through aiohttp's test client, on the real unit of work."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.api import OPENAPI, PREFIX, ShopApi
from bot.errors import StartupError
from bot.settings import Settings, require_api_token
from bot.shop import build_shop
from dialogs.clock import FrozenClock
from storage.db import Database
from storage.models import Case, CaseEvent, Outbox
from tests.factories import make_case, make_customer, make_order

TOKEN = "api-token-" + "t" * 22
CHAT = 6001
RETURN = "AS-20261126-0100"
REPAIR = "AS-20261126-0101"
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(**extra: Any) -> Settings:
    return Settings(_env_file=None, link_secret="test-link-secret-16", **extra)


@pytest.fixture
async def api(db: Database) -> AsyncIterator[TestClient]:
    async with db.transaction() as s:
        customer = await make_customer(s, language="en", telegram_user_id=CHAT)
        order = await make_order(s, customer, items=[{"name": "Kettle", "unit_price": "99.00"}])
        await make_case(s, order, case_no=RETURN, chat_id=CHAT, locale="en",
                        status="awaiting_return")  # fmt: skip
        other = await make_order(s, customer, items=[{"name": "Drill", "unit_price": "300.00"}])
        await make_case(s, other, case_no=REPAIR, chat_id=CHAT, locale="en", service="repair",
                        reason="quality", status="in_transit", carrier="sf",
                        waybill="SF1234567890123")  # fmt: skip
    shop = build_shop(_settings(), db, FrozenClock(NOW))
    server = TestServer(ShopApi(shop.work, shop.texts, TOKEN).app())
    async with TestClient(server) as client:
        yield client


async def _case(db: Database, case_no: str) -> tuple[Case, list[CaseEvent], list[Outbox]]:
    async with db.read() as s:
        case = (await s.scalars(select(Case).where(Case.case_no == case_no))).one()
        events = (await s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))).all()
        sent = (await s.scalars(select(Outbox).order_by(Outbox.id))).all()
        s.expunge_all()
        return case, list(events), list(sent)


async def _post(api: TestClient, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    response = await api.post(PREFIX + path, json=body, headers=kw.pop("headers", AUTH), **kw)
    return response.status, await response.json()


async def test_without_the_token_nothing_is_answered_or_changed(api, db):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):  # fmt: skip
        response = await api.get(f"{PREFIX}/cases", headers=headers)
        assert response.status == 401
        body = await response.json()
        assert body["error"] == "unauthorized" and "Authorization: Bearer" in body["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        status, _ = await _post(api, f"/cases/{RETURN}/received", headers=headers)
        assert status == 401
    case, events, sent = await _case(db, RETURN)
    assert case.status == "awaiting_return" and events == [] and sent == []
    # The OpenAPI document needs no token; the cases do, and get them with it.
    assert (await api.get(f"{PREFIX}/openapi.json")).status == 200
    response = await api.get(f"{PREFIX}/cases", headers=AUTH)
    assert response.status == 200
    assert [c["case_no"] for c in (await response.json())["cases"]] == [RETURN, REPAIR]


async def test_a_return_through_the_api(api, db):
    status, body = await _post(api, f"/cases/{RETURN}/received", {"note": "box dented"})
    assert status == 200
    assert body["status"] == "received" and body["next"] == ["inspected"]
    status, body = await _post(api, f"/cases/{RETURN}/inspected", {"ok": True})
    assert (status, body["status"]) == (200, "inspected")
    status, body = await _post(api, f"/cases/{RETURN}/refunded", {"amount": "12.50"})
    assert (status, body["status"], body["refund_amount"]) == (200, "refunded", "12.50")
    status, body = await _post(api, f"/cases/{RETURN.lower()}/close")
    assert (status, body["status"]) == (200, "closed")
    response = await api.get(f"{PREFIX}/cases/{RETURN}", headers=AUTH)
    shown = await response.json()
    steps = [(e["kind"], e["actor"], e["data"].get("via")) for e in shown["events"]][:4]
    assert steps == [("received", "agent", "api"), ("inspected_ok", "agent", "api"),
                     ("refunded", "agent", "api"), ("close", "agent", "api")]  # fmt: skip
    assert shown["events"][0]["data"]["note"] == "box dented"
    _, _, sent = await _case(db, RETURN)
    told = "\n".join(m.payload.get("text", "") for m in sent if m.chat_id == CHAT)
    assert "has <b>arrived</b>" in told and "CN¥12.50" in told and "is <b>closed</b>" in told


async def test_an_impossible_step_is_409_and_changes_nothing(api, db):
    before, _, _ = await _case(db, RETURN)
    status, body = await _post(api, f"/cases/{RETURN}/refunded", {"amount": "10"})
    assert status == 409
    assert body["error"] == "not_now"
    assert body["message"].startswith(f'Request {RETURN} cannot take the step "refunded" now')
    case, events, sent = await _case(db, RETURN)
    assert (case.status, case.version, case.refund_amount) == ("awaiting_return",
                                                              before.version, None)  # fmt: skip
    assert events == [] and sent == []
    # A return never ships anything to the customer: 409 as well.
    status, body = await _post(api, f"/cases/{RETURN}/shipped",
                               {"carrier": "sf", "waybill": "SF1234567890123"})  # fmt: skip
    assert (status, body["error"]) == (409, "not_now")


async def test_bad_values_are_422_with_the_reason(api, db):
    status, body = await _post(api, f"/cases/{RETURN}/waybill", {"carrier": "sf", "number": "12"})
    assert (status, body["error"]) == (422, "bad_waybill")
    assert "It looks like this: SF1234567890123" in body["message"]
    status, body = await _post(api, f"/cases/{RETURN}/waybill",
                               {"carrier": "sf", "number": "SF1234567890123"})  # fmt: skip
    assert (status, body["error"]) == (422, "waybill_used")  # the repair's parcel has it
    await _post(api, f"/cases/{REPAIR}/received")
    status, body = await _post(api, f"/cases/{REPAIR}/inspected", {"ok": False})
    assert (status, body["error"]) == (422, "note_needed")
    await _post(api, f"/cases/{REPAIR}/inspected", {"ok": True})
    status, body = await _post(api, f"/cases/{REPAIR}/unrepairable", {"resolution": "magic"})
    assert (status, body["error"]) == (422, "resolution_needed")
    status, body = await _post(api, f"/cases/{REPAIR}/unrepairable", {"resolution": "refund"})
    assert (status, body["resolution"], body["next"]) == (200, "refund", ["refunded"])
    status, body = await _post(api, f"/cases/{REPAIR}/refunded", {"amount": "9999"})
    assert (status, body["error"]) == (422, "bad_amount")
    assert "at most 300.00" in body["message"]
    case, _, _ = await _case(db, RETURN)
    assert (case.waybill, case.status) == (None, "awaiting_return")


async def test_requests_the_api_cannot_read(api, db):
    response = await api.post(f"{PREFIX}/cases/{RETURN}/received", data=b"{not json",
                              headers=AUTH)  # fmt: skip
    assert response.status == 400 and (await response.json())["error"] == "not_json"
    status, body = await _post(api, f"/cases/{RETURN}/received", [1, 2])
    assert (status, body["error"]) == (400, "not_json")
    status, body = await _post(api, f"/cases/{RETURN}/inspected", {"ok": "yes"})
    assert (status, body["error"]) == (400, "bad_field")
    assert body["message"] == '"ok" must be true or false.'
    status, body = await _post(api, f"/cases/{RETURN}/received", {"note": 5})
    assert (status, body["message"]) == (400, '"note" must be a string.')
    big = {"note": "x" * (64 * 1024)}
    status, body = await _post(api, f"/cases/{RETURN}/received", big)
    assert (status, body["error"]) == (413, "too_large")
    response = await api.get(f"{PREFIX}/cases?status=lost", headers=AUTH)
    assert response.status == 400 and "one of submitted" in (await response.json())["message"]
    response = await api.get(f"{PREFIX}/cases?limit=0", headers=AUTH)
    assert response.status == 400
    status, body = await _post(api, "/cases/AS-20990101-0001/received")
    missing = "There is no request AS-20990101-0001."
    assert (status, body) == (404, {"error": "no_case", "message": missing})
    response = await api.get(f"{PREFIX}/cases/AS-20990101-0001", headers=AUTH)
    assert response.status == 404
    response = await api.get(f"{PREFIX}/nothing", headers=AUTH)
    assert response.status == 404 and (await response.json())["error"] == "no_endpoint"
    response = await api.get(f"{PREFIX}/cases/{RETURN}/received", headers=AUTH)
    assert response.status == 404  # a step is a POST
    # In Chinese for a caller who asks for it.
    status, body = await _post(api, f"/cases/{RETURN}/refunded",
                               headers={**AUTH, "Accept-Language": "zh-CN"})  # fmt: skip
    assert status == 409 and "售后单" in body["message"]
    case, events, sent = await _case(db, RETURN)
    assert case.status == "awaiting_return" and events == [] and sent == []


async def test_tracking_delivered_moves_the_return_to_received(api, db):
    status, body = await _post(api, "/tracking", {"carrier": "sf", "waybill": "SF 1234567890123",
                                                  "status": "in_transit"})  # fmt: skip
    assert (status, body["changed"]) == (202, False)
    status, body = await _post(api, "/tracking", {
        "carrier": "sf", "waybill": "SF1234567890123", "status": "delivered",
        "at": "2026-12-03T09:40:00+08:00"})  # fmt: skip
    assert status == 200 and body["changed"] is True
    assert (body["case"]["case_no"], body["case"]["status"]) == (REPAIR, "received")
    _, events, sent = await _case(db, REPAIR)
    kinds = [(e.kind, e.actor, e.data.get("via") or e.data.get("status")) for e in events]
    assert kinds == [("tracking", "system", "in_transit"), ("tracking", "system", "delivered"),
                     ("received", "system", "tracking")]  # fmt: skip
    assert events[1].data["at"] == "2026-12-03T09:40:00+08:00"
    assert "has <b>arrived</b>" in sent[-1].payload["text"] and sent[-1].chat_id == CHAT
    # The carrier posts it again: nothing moves twice.
    status, body = await _post(api, "/tracking", {"waybill": "SF1234567890123",
                                                  "status": "delivered"})  # fmt: skip
    assert (status, body["changed"], body["cases"]) == (
        202, False, [{"case_no": REPAIR, "status": "received"}])  # fmt: skip
    status, body = await _post(api, "/tracking", {"waybill": "SF9999999999999",
                                                  "status": "delivered"})  # fmt: skip
    assert (status, body["error"]) == (404, "unknown_waybill")
    status, body = await _post(api, "/tracking", {"waybill": "SF1234567890123"})
    assert (status, body["message"]) == (400, '"status" is required.')
    late = {"waybill": "SF1234567890123", "status": "delivered", "at": "yesterday"}
    status, body = await _post(api, "/tracking", late)
    assert status == 400 and "ISO 8601" in body["message"]


def _template(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)


async def test_the_openapi_document_lists_every_route(api):
    response = await api.get(f"{PREFIX}/openapi.json")
    document = await response.json()
    assert document == OPENAPI and document["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), _template(route.resource.canonical).removeprefix(PREFIX))
        for route in api.server.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith(PREFIX)
        and route.method != "HEAD"
    }  # fmt: skip
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == documented
    assert len(documented) == 12
    # Each step documents its errors; every refusal code has its status.
    for op in ("received", "inspected", "refunded", "shipped", "waybill", "unrepairable"):
        answers = document["paths"][f"/cases/{{case_no}}/{op}"]["post"]["responses"]
        assert {"200", "400", "401", "404", "409", "422"} <= set(answers)


def test_the_token_must_be_hard_to_guess_and_have_a_port():
    assert require_api_token(_settings(), webhook=False) is None  # no token: the API is off
    with pytest.raises(StartupError, match=r"^API_TOKEN is too short \(5 characters\)"):
        require_api_token(_settings(api_token="short", api_port=8090), webhook=False)
    with pytest.raises(StartupError, match="API_PORT is not"):
        require_api_token(_settings(api_token=TOKEN), webhook=False)
    assert require_api_token(_settings(api_token=TOKEN), webhook=True) == TOKEN
    assert require_api_token(_settings(api_token=TOKEN, api_port=8090), webhook=False) == TOKEN
