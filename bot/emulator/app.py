"""The aiohttp application speaking the Bot API over HTTP like api.telegram.org."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from bot.emulator.control import add_control_routes
from bot.emulator.dispatch import NOT_FOUND, DropConnection
from bot.emulator.emulator import Emulator
from bot.emulator.validation import UploadedFile

TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]{35}")
EMULATOR_KEY = web.AppKey("emulator", Emulator)
MAX_UPLOAD = 50 * 1024 * 1024  # Telegram's limit for bot uploads

_UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}


def create_app(emulator: Emulator) -> web.Application:
    app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
    app[EMULATOR_KEY] = emulator
    app.router.add_route("*", "/bot{token}/{method}", handle_method)
    app.router.add_get("/file/bot{token}/{file_path:.+}", handle_file)
    add_control_routes(app, emulator)
    return app


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if not request.body_exists:
        return params, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ValueError("can't parse JSON object in request body")
        params.update(body)
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = UploadedFile(value.filename, value.content_type, value.file.read())
        else:
            params[key] = value
    return params, files


async def handle_method(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR_KEY]
    token = request.match_info["token"]
    if not TOKEN_RE.fullmatch(token):
        return web.json_response(_UNAUTHORIZED, status=401, dumps=_dumps)
    # One emulator serves one bot: it answers as whichever well-formed token calls it.
    emulator.bot_id = int(token.split(":", 1)[0])
    try:
        params, files = await read_params(request)
    except ValueError as exc:
        body = {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
        return web.json_response(body, status=400, dumps=_dumps)
    try:
        status, body = await emulator.execute(request.match_info["method"], params, files)
    except DropConnection:
        # Simulate a network failure: the client sees the connection close with no answer.
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPServiceUnavailable() from None
    return web.json_response(body, status=status, dumps=_dumps)


async def handle_file(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR_KEY]
    if not TOKEN_RE.fullmatch(request.match_info["token"]):
        return web.json_response(_UNAUTHORIZED, status=401, dumps=_dumps)
    record = emulator.files_by_path.get(request.match_info["file_path"])
    if record is None:
        return web.json_response(NOT_FOUND, status=404, dumps=_dumps)
    return web.Response(
        body=record.data, content_type=record.mime_type or "application/octet-stream"
    )
