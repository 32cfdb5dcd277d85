"""The OpenAPI 3.1 document of the shop's HTTP API (`bot/api.py`), as data next to it: every
route the API serves is described here (a test checks that)."""

from __future__ import annotations

from typing import Any

from bot.cases import MAX_LIMIT, OPERATIONS, RESOLUTIONS, STATUSES
from dialogs.lifecycle import carriers
from storage.domain import Actor

PREFIX = "/api/v1"
TRACKING_STATUSES = ("picked_up", "in_transit", "out_for_delivery", "delivered", "exception",
                     "returned")  # fmt: skip


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
