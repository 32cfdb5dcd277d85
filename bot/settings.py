"""Configuration from the environment or `.env` (pydantic-settings), typed and frozen.

`load_settings()` turns every malformed value into one `StartupError` sentence that names the
environment variable; `require_*` and `check_policy` are the checks a command makes before it
relies on a setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import StartupError

if TYPE_CHECKING:
    from dialogs.policy import Policy, PolicyError

LINK_SECRET_MIN = 16
API_TOKEN_MIN = 16
WEBHOOK_SECRET_MIN, WEBHOOK_SECRET_MAX = 32, 256
PUBLISHED_LINK_SECRET = "change-me"  # the old default, still in copies of old .env files
_MAKE_A_SECRET = 'e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"'
_SECRET_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]*")  # what Telegram allows in secret_token
_INTEGER = re.compile(r"[+-]?\d+")
_TELEGRAM_ID_LIMIT = 2**53  # Telegram ids have at most 52 significant bits

_ASYNC_DRIVERS = {
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql+asyncpg": "postgresql+asyncpg",
    # What people write: the bot needs the async driver, and there is only one per database.
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_USE_DATABASE = "use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host/db"
_LOCALES = ("zh", "en")
_SECRET_VARIABLES = {"BOT_TOKEN", "LINK_SECRET", "WEBHOOK_SECRET", "API_TOKEN"}  # never echoed


class Settings(BaseSettings):
    # validate_by_name: Settings(agent_chat_ids=[...]) must not be dropped silently as extra.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, validate_by_name=True
    )

    bot_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./aftersales.db"
    agent_chat_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, validation_alias="agent_chat_id"
    )
    policy: str = "standard"
    default_locale: Literal["zh", "en"] = "zh"
    timezone: str = "Asia/Shanghai"
    evidence_dir: Path = Path("./evidence")
    bot_username: str | None = None  # for `aftersales link` without a token at hand
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    link_secret: SecretStr | None = None
    link_ttl_days: int = Field(30, ge=1)
    # Processed inbox rows and sent outbox rows are deleted after this many days.
    retention_processed_days: int = Field(7, ge=1)
    agent_ids: Annotated[list[int], NoDecode] = []
    supervisor_ids: Annotated[list[int], NoDecode] = []
    # Where approved returns are sent, as each language writes it, and who receives them.
    return_address: str = "上海市浦东新区示例路 88 号"
    return_address_en: str | None = "88 Example Road, Pudong New Area, Shanghai, China"
    return_recipient: str = "售后部"
    return_recipient_en: str | None = "After-sales Dept."
    return_phone: str = "021-5555-0188"
    shop_name: str = "Demo Shop"
    faq: str = "default"  # the FAQ file: "default" (faq/default.yaml), a path, or "none"
    # The warehouses goods go back to, by code (a YAML or JSON file: bot/warehouses.py);
    # unset: the RETURN_ADDRESS* settings are the one warehouse, main.
    warehouses: str | None = None
    # The shop's HTTP API (bot/api.py): off without a token. In polling mode it listens on
    # API_HOST:API_PORT; behind a webhook the webhook's server serves it under /api/.
    api_token: SecretStr | None = None
    api_host: str = "127.0.0.1"
    api_port: int | None = Field(None, ge=1, le=65535)
    # Telegram's flood limits the outbox keeps (messages per second): raise them for a local
    # Bot API server or a bot with raised limits. Defaults: bot/ratelimit.py `Limits`.
    telegram_rate_overall: float = Field(25.0, gt=0, allow_inf_nan=False)
    telegram_rate_per_chat: float = Field(1.0, gt=0, allow_inf_nan=False)
    telegram_rate_per_group: float = Field(20 / 60, gt=0, allow_inf_nan=False)
    # /healthz and /metrics in polling mode (behind a webhook: on the webhook's server).
    health_host: str = "127.0.0.1"
    health_port: int | None = Field(None, ge=1, le=65535)
    log_format: Literal["text", "json"] = "text"
    # The weekly after-sales digest in the agents' group (bot/reports/digest.py): last week's
    # report on REPORT_DIGEST_WEEKDAY (0 Monday) at REPORT_DIGEST_HOUR, shop time. Off unless
    # asked for.
    report_digest: bool = False
    report_digest_weekday: int = Field(0, ge=0, le=6)
    report_digest_hour: int = Field(9, ge=0, le=23)

    @property
    def agent_chat_id(self) -> int | None:
        """The first agents' group: where cases go while there is only one."""
        return self.agent_chat_ids[0] if self.agent_chat_ids else None

    @field_validator("bot_token", "bot_username", "webhook_secret", "link_secret", "api_token",
                     "api_port", "health_port", mode="before")  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `WEBHOOK_SECRET=` in a .env file means "none", not a secret of no characters.
        return None if value == "" else value

    @field_validator("bot_token", mode="after")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        left, colon, right = token.partition(":")
        if not (colon and left.isdigit() and right) or any(c.isspace() for c in token):
            raise ValueError(
                "not a bot token (it looks like 123456789:AAE…, as @BotFather gives it)"
            )
        return SecretStr(token)

    @field_validator("agent_ids", "supervisor_ids", mode="before")
    @classmethod
    def _user_ids(cls, value: Any) -> list[int]:
        ids = _integers(value)
        if ids is None or not all(0 < n < _TELEGRAM_ID_LIMIT for n in ids):
            raise ValueError(f"not a list of Telegram user ids: {_shown(value)} (write 111,222)")
        return ids

    @field_validator("agent_chat_ids", mode="before")
    @classmethod
    def _chat_ids(cls, value: Any) -> list[int]:
        ids = _integers(value)
        if ids is None or not all(n < 0 and abs(n) < _TELEGRAM_ID_LIMIT for n in ids):
            raise ValueError(
                f"not a Telegram group id: {_shown(value)} "
                "(write -1001234567890, or -100123,-100456 for several groups)"
            )
        return ids

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> str:
        return _async_database_url(value)

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str:
        name = value.strip() if isinstance(value, str) else value
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise ValueError(
                f"unknown time zone {_shown(value)} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return str(name)

    @field_validator("default_locale", mode="before")
    @classmethod
    def _locale(cls, value: Any) -> str:
        locale = value.strip().lower() if isinstance(value, str) else value
        if locale not in _LOCALES:
            raise ValueError(f"unsupported language {_shown(value)} (use zh or en)")
        return str(locale)

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> str:
        form = value.strip().lower() if isinstance(value, str) else value
        if form not in ("text", "json"):
            raise ValueError(f"unknown log format {_shown(value)} (use text or json)")
        return str(form)

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: Any) -> str | None:
        return None if value in (None, "") else _http_url(value)

    @field_validator("telegram_api_base", mode="before")
    @classmethod
    def _api_base(cls, value: Any) -> str:
        return _http_url(value)


def load_settings() -> Settings:
    """The settings from the environment and `.env`, or one sentence naming what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        raise StartupError(_validation_sentence(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:  # an unreadable .env
        raise StartupError(f".env: cannot read it: {exc}") from None
    except SettingsError as exc:
        raise StartupError(str(exc)) from None


def require_link_secret(settings: Settings) -> str:
    """LINK_SECRET, if it is one nobody else knows; `aftersales link` and `run` need it."""
    secret = settings.link_secret.get_secret_value() if settings.link_secret else ""
    if secret in ("", PUBLISHED_LINK_SECRET):
        raise StartupError(
            "LINK_SECRET is not set (or is the published default): deep links could be forged "
            f"by anyone; set it to a random string of at least {LINK_SECRET_MIN} characters, "
            f"{_MAKE_A_SECRET}"
        )
    if len(secret) < LINK_SECRET_MIN:
        raise StartupError(
            f"LINK_SECRET is too short ({len(secret)} characters): deep links could be forged; "
            f"set it to a random string of at least {LINK_SECRET_MIN} characters, "
            f"{_MAKE_A_SECRET}"
        )
    return secret


def require_webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, if Telegram accepts it as secret_token and it is hard to guess."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        raise StartupError(
            "WEBHOOK_SECRET is not set: anyone who finds WEBHOOK_URL could post fake updates; "
            f"set it to a random string of {WEBHOOK_SECRET_MIN} to {WEBHOOK_SECRET_MAX} "
            f"characters from A-Z a-z 0-9 _ -, {_MAKE_A_SECRET}"
        )
    if not _SECRET_TOKEN_CHARS.fullmatch(secret):
        bad = "".join(sorted({c for c in secret if not _SECRET_TOKEN_CHARS.fullmatch(c)}))
        raise StartupError(
            f"WEBHOOK_SECRET has characters Telegram does not allow in secret_token ({bad!r}); "
            f"use only A-Z a-z 0-9 _ -, {_MAKE_A_SECRET}"
        )
    if len(secret) < WEBHOOK_SECRET_MIN:
        raise StartupError(
            f"WEBHOOK_SECRET is too short ({len(secret)} characters): use at least "
            f"{WEBHOOK_SECRET_MIN}, {_MAKE_A_SECRET}"
        )
    if len(secret) > WEBHOOK_SECRET_MAX:
        raise StartupError(
            f"WEBHOOK_SECRET is too long ({len(secret)} characters): Telegram allows at most "
            f"{WEBHOOK_SECRET_MAX}"
        )
    return secret


def require_api_token(settings: Settings, *, webhook: bool) -> str | None:
    """API_TOKEN if the shop's HTTP API is on (None: it is off), once it is hard to guess and,
    in polling mode, API_PORT says where the API listens."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token:
        return None
    if any(c.isspace() or not c.isprintable() for c in token):
        raise StartupError(
            "API_TOKEN has spaces or control characters, which a bearer token cannot carry; "
            f"{_MAKE_A_SECRET}"
        )
    if len(token) < API_TOKEN_MIN:
        raise StartupError(
            f"API_TOKEN is too short ({len(token)} characters): the shop's HTTP API could be "
            f"guessed into; set it to a random string of at least {API_TOKEN_MIN} characters, "
            f"{_MAKE_A_SECRET}"
        )
    if not webhook and settings.api_port is None:
        raise StartupError(
            "API_TOKEN is set but API_PORT is not: in polling mode the HTTP API needs a port of "
            "its own (e.g. API_PORT=8090); behind a webhook it is served under /api/"
        )
    return token


def require_run_secrets(settings: Settings, *, webhook: bool) -> None:
    """What `aftersales run` needs before it talks to Telegram (with --webhook: the URL too)."""
    require_link_secret(settings)
    require_api_token(settings, webhook=webhook)
    if webhook:
        if settings.webhook_url is None:
            raise StartupError(
                "WEBHOOK_URL is not set: run --webhook needs the public https address "
                "Telegram posts to"
            )
        require_webhook_secret(settings)


def check_policy(settings: Settings) -> Policy:
    """The POLICY profile loaded, or one sentence on why it cannot be used."""
    from dialogs.policy import PolicyError, load_policy

    try:
        return load_policy(settings.policy)
    except PolicyError as exc:
        raise StartupError(_policy_sentence(settings.policy, exc)) from None


def _policy_sentence(name: str, exc: PolicyError) -> str:
    if exc.problems == [("", "no such policy file")]:
        from dialogs.paths import POLICIES_DIR

        profiles = ", ".join(sorted(p.stem for p in POLICIES_DIR.glob("*.yaml")))
        return f"POLICY: no profile or file named {name!r} (profiles: {profiles})"
    first = str(exc).splitlines()[0]
    more = len(exc.problems) - 1
    if not more:
        return f"POLICY: {first}"
    problems = "problem" if more == 1 else "problems"
    return (
        f"POLICY: {first} (and {more} more {problems}: "
        f"aftersales policy validate {name} lists them all)"
    )


def _integers(value: Any) -> list[int] | None:
    """`111,222`, `[111,222]`, ` 111 , 222 `, `111`, a list or an int; None if it is none."""
    if value is None:
        return []
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items: list[Any] = [part.strip().strip("\"'") for part in text.split(",")]
        items = [item for item in items if item]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None
    ids = [_integer(item) for item in items]
    return None if None in ids else [n for n in ids if n is not None]


def _integer(item: Any) -> int | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item
    if isinstance(item, str) and _INTEGER.fullmatch(item.strip()):
        return int(item)
    return None


def _async_database_url(value: Any) -> str:
    url = value.strip() if isinstance(value, str) else ""
    try:
        driver = make_url(url).drivername
    except (ArgumentError, ValueError):
        raise ValueError(f"not a database URL; {_USE_DATABASE}") from None
    if driver not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {driver!r}; {_USE_DATABASE}")
    _, rest = url.split("://", 1)
    return f"{_ASYNC_DRIVERS[driver]}://{rest}"


def _http_url(value: Any) -> str:
    if not _is_http_url(value):
        raise ValueError(
            f"not an http(s) URL with a host: {_shown(value)} "
            "(write e.g. https://bot.example.com/telegram)"
        )
    return str(value).strip()


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _shown(value: Any) -> str:
    return repr(value.strip()) if isinstance(value, str) else repr(value)


def _validation_sentence(exc: ValidationError) -> str:
    errors = exc.errors()
    names = list(dict.fromkeys(_variable(err) for err in errors))
    sentence = _error_sentence(errors[0])
    if len(names) > 1:
        sentence += f"; also check {', '.join(names[1:])}"
    return sentence


def _variable(err: ErrorDetails) -> str:
    return str(err["loc"][0]).upper() if err["loc"] else "settings"


def _error_sentence(err: ErrorDetails) -> str:
    name = _variable(err)
    if err["type"] == "value_error":  # our validators' own sentences
        return f"{name}: {err.get('ctx', {}).get('error', err['msg'])}"
    if name in _SECRET_VARIABLES:
        return f"{name}: {err['msg'].lower()}"
    got = err.get("input")
    if err["type"] in ("int_parsing", "int_type", "int_from_float"):
        return f"{name}: not a whole number: {got!r}"
    if err["type"] == "greater_than_equal":
        return f"{name}: must be at least {err.get('ctx', {}).get('ge')} (got {got!r})"
    if err["type"] == "less_than_equal":
        return f"{name}: must be at most {err.get('ctx', {}).get('le')} (got {got!r})"
    if err["type"] == "greater_than":
        return f"{name}: must be more than {err.get('ctx', {}).get('gt'):g} (got {got!r})"
    if err["type"] in ("float_parsing", "float_type", "finite_number"):
        return f"{name}: not a number of messages per second: {got!r} (write e.g. 30 or 0.5)"
    return f"{name}: {err['msg'].lower()} (got {got!r})"
