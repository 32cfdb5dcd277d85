"""One Bot API call from parameters to answer: faults, validation, handler, bookkeeping."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.errors import ApiError, ErrorRecord
from bot.emulator.faults import fault_description
from bot.emulator.methods import HANDLERS
from bot.emulator.state import CallRecord
from bot.emulator.validation import UploadedFile


class DropConnection(Exception):
    """The app must close the socket without answering."""


NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}


class Dispatching(EmulatorCore):
    async def execute(
        self, method: str, params: dict[str, Any], files: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        started = time.perf_counter()
        record = CallRecord(method, _loggable(params), self.clock())
        self.calls.append(record)
        self.calls_by_method.setdefault(method.lower(), []).append(record)
        try:
            status, body = await self._execute(method, params, files, record)
        except DropConnection:
            record.ok = False
            record.duration = time.perf_counter() - started
            self.notify_change()
            raise
        record.ok = body["ok"]
        if not body["ok"]:
            record.error_code = body["error_code"]
            record.description = body["description"]
        record.duration = time.perf_counter() - started
        self.notify_change()
        return status, body

    async def _execute(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        record: CallRecord,
    ) -> tuple[int, dict[str, Any]]:
        spec = self.spec.method(method)
        if spec is None:
            self.validation_errors.append(
                ErrorRecord(method, "Not Found", record.params, 404, record.at)
            )
            return 404, dict(NOT_FOUND)
        record.method = spec.name
        fault = self.faults.take(spec.name)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "drop":
                raise DropConnection
            if fault.kind == "slow":
                await asyncio.sleep(fault.seconds)
            else:
                error = ApiError(
                    fault.status, fault_description(fault), retry_after=fault.retry_after
                )
                return error.code, error.payload()
        try:
            # A file part named like a parameter is that parameter (e.g. photo=@file).
            for name in files.keys() & spec.params.fields.keys():
                params.setdefault(name, files[name])
            valid = self.validator.validate_params(spec, params, files)
            handler = HANDLERS.get(spec.name)
            if handler is None:
                return self._unsupported(spec.name, spec.returns)
            result = await handler(self, valid, spec.name)
        except ApiError as error:
            target = self.validation_errors if error.kind == "validation" else self.api_errors
            target.append(
                ErrorRecord(spec.name, error.description, record.params, error.code, record.at)
            )
            return error.code, error.payload()
        if self.check_results:
            self._check_result(spec.name, spec.returns, result, record)
        return 200, {"ok": True, "result": result}

    def _unsupported(self, method: str, returns: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
        self.unsupported_calls.append(method)
        if returns == ("Boolean",):
            # Harmless settings calls (setChatDescription, ...) just succeed.
            return 200, {"ok": True, "result": True}
        error = ApiError(501, f"Not Implemented: the emulator does not support {method}")
        return error.code, error.payload()

    def _check_result(
        self, method: str, returns: tuple[str, ...], result: Any, record: CallRecord
    ) -> None:
        if isinstance(result, bool) or not returns:
            return
        missing = self.objects.missing_required(returns, result, "result")
        if missing:
            self.result_errors.append(
                ErrorRecord(method, f"missing required: {', '.join(missing)}", record.params)
            )


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: f"<file {v.filename}, {len(v.data)} bytes>" if isinstance(v, UploadedFile) else v
        for k, v in params.items()
    }
