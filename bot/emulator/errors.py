"""Errors a method handler raises; the app turns them into Telegram's error JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# A *validation* error means the request itself is wrong against the spec or Telegram's static
# limits (unknown/missing/mistyped parameter, text too long, bad HTML, keyboard shape): a correct
# bot never produces one. An *api* error depends on state (message not modified, chat not found,
# blocked user, expired callback query, rate limit): a correct bot may legitimately meet them.
ErrorKind = Literal["validation", "api"]


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        description: str,
        *,
        kind: ErrorKind = "api",
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.kind = kind
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """A request that is malformed against the spec or Telegram's limits."""
    return ApiError(400, f"Bad Request: {detail}", kind="validation")


def state_error(detail: str, code: int = 400) -> ApiError:
    """A well-formed request that Telegram refuses because of the current state."""
    prefix = {400: "Bad Request", 403: "Forbidden", 409: "Conflict"}.get(code)
    return ApiError(code, f"{prefix}: {detail}" if prefix else detail, kind="api")


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    method: str
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    error_code: int = 400
    at: float = 0.0
