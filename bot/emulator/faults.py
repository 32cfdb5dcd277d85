"""Fault injection switches: scripted errors, slow answers and dropped connections per method."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

ANY_METHOD = "*"

# Telegram's own wording, so bots that match on descriptions see what production sends.
DESCRIPTIONS = {
    400: "Bad Request: wrong parameter",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(slots=True)
class Fault:
    kind: str  # "fail" | "slow" | "drop"
    times: int | None  # None: until cleared
    status: int = 500
    retry_after: int | None = None
    description: str | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class Faults:
    """Per-method queues of faults; `ANY_METHOD` ("*") matches every method."""

    _by_method: dict[str, list[Fault]] = field(default_factory=dict)
    triggered: list[tuple[str, str]] = field(default_factory=list)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 2,
        times: int | None = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (429 carries retry_after);
        `times=None` keeps failing until `clear(method)`."""
        self._add(method, _failure(status, times, retry_after, description))

    def fail_always(
        self,
        method: str,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = 2,
    ) -> None:
        """Answer every call of `method` with `status` until `clear(method)` (a revoked token
        is `fail_always("*", 401)`)."""
        self._add(method, _failure(status, None, retry_after, description))

    def slow(self, method: str, seconds: float, times: int | None = None) -> None:
        """Delay answers of `method` by `seconds` (all calls unless `times` is given)."""
        self._add(method, Fault("slow", times, seconds=seconds))

    def drop_connection(self, method: str, times: int = 1) -> None:
        """Close the socket without answering the next `times` calls of `method`."""
        self._add(method, Fault("drop", times))

    def clear(self, method: str | None = None) -> None:
        if method is None:
            self._by_method.clear()
        else:
            self._by_method.pop(method.lower(), None)

    def _add(self, method: str, fault: Fault) -> None:
        self._by_method.setdefault(method.lower(), []).append(fault)

    def take(self, method: str) -> Fault | None:
        """The fault to apply to this call of `method`, consuming one use of it."""
        if not self._by_method:
            return None
        for key in (method.lower(), ANY_METHOD):
            queue = self._by_method.get(key)
            if not queue:
                continue
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            self.triggered.append((method, fault.kind))
            return fault
        return None


def _failure(
    status: int, times: int | None, retry_after: int | None, description: str | None
) -> Fault:
    if times is not None and times < 1:
        raise ValueError(f"times must be at least 1 (or None for always), got {times}")
    return Fault(
        "fail",
        times,
        status=status,
        retry_after=retry_after if status == 429 else None,
        description=description,
    )


def default_description(status: int, retry_after: int | None = None) -> str:
    """Telegram's wording for `status`; other codes get their HTTP reason phrase."""
    template = DESCRIPTIONS.get(status)
    if template is None:
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return "Internal Server Error"
    return template.format(retry_after=retry_after)


def fault_description(fault: Fault) -> str:
    return fault.description or default_description(fault.status, fault.retry_after)
