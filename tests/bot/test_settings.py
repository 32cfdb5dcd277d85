"""Settings as the operator meets them: each malformed value is one sentence naming its variable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import StartupError
from bot.settings import (
    Settings,
    check_policy,
    load_settings,
    require_link_secret,
    require_run_secrets,
)
from dialogs.paths import POLICIES_DIR

TOKEN = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
LINK_SECRET = "a-link-secret-of-some-length"
WEBHOOK_SECRET = "a-webhook-secret-" + "x" * 24
# Every variable Settings reads, so a developer's own environment cannot leak into a test.
VARIABLES = [name.upper() for name in Settings.model_fields] + ["AGENT_CHAT_ID"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment and a folder without .env; set variables with env.setenv."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def refusal(env: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        env.setenv(name, value)
    with pytest.raises(StartupError) as caught:
        load_settings()
    sentence = str(caught.value)
    assert "\n" not in sentence
    assert caught.value.exit_code == 2
    return sentence


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AGENT_IDS", "abc", "AGENT_IDS: not a list of Telegram user ids: 'abc' (write 111,222)"),
        ("AGENT_IDS", "111,abc", "AGENT_IDS: not a list of Telegram user ids: '111,abc'"),
        ("AGENT_IDS", "true", "AGENT_IDS: not a list of Telegram user ids: 'true'"),
        ("AGENT_IDS", "1.5", "AGENT_IDS: not a list of Telegram user ids"),
        ("SUPERVISOR_IDS", "[111,x]", "SUPERVISOR_IDS: not a list of Telegram user ids"),
        ("AGENT_CHAT_ID", "agents", "AGENT_CHAT_ID: not a Telegram group id: 'agents'"),
        ("AGENT_CHAT_ID", "-100123,x", "AGENT_CHAT_ID: not a Telegram group id"),
        ("AGENT_CHAT_ID", "12345", "AGENT_CHAT_ID: not a Telegram group id"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: unsupported database 'mysql'; use "),
        ("DATABASE_URL", "sqlite+pysqlite://", "DATABASE_URL: unsupported database 'sqlite+pys"),
        ("DATABASE_URL", "abc", "DATABASE_URL: not a database URL; use sqlite+aiosqlite://"),
        ("DATABASE_URL", "postgresql://u@h:port/db", "DATABASE_URL: not a database URL"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("TIMEZONE", "../etc/passwd", "TIMEZONE: unknown time zone"),
        ("DEFAULT_LOCALE", "fr", "DEFAULT_LOCALE: unsupported language 'fr' (use zh or en)"),
        ("WEBHOOK_URL", "ftp://bot.example.com", "WEBHOOK_URL: not an http(s) URL with a host"),
        ("WEBHOOK_URL", "https://", "WEBHOOK_URL: not an http(s) URL with a host"),
        ("TELEGRAM_API_BASE", "localhost:8081", "TELEGRAM_API_BASE: not an http(s) URL"),
        ("LINK_TTL_DAYS", "0", "LINK_TTL_DAYS: must be at least 1 (got '0')"),
        ("LINK_TTL_DAYS", "a month", "LINK_TTL_DAYS: not a whole number: 'a month'"),
        ("BOT_TOKEN", "not-a-token", "BOT_TOKEN: not a bot token"),
        ("TELEGRAM_RATE_OVERALL", "0", "TELEGRAM_RATE_OVERALL: must be more than 0 (got '0')"),
        ("TELEGRAM_RATE_PER_CHAT", "-1", "TELEGRAM_RATE_PER_CHAT: must be more than 0"),
        ("TELEGRAM_RATE_PER_GROUP", "fast", "TELEGRAM_RATE_PER_GROUP: not a number of messages"),
        ("TELEGRAM_RATE_OVERALL", "inf", "TELEGRAM_RATE_OVERALL: not a number of messages"),
        ("TELEGRAM_RATE_OVERALL", "nan", "TELEGRAM_RATE_OVERALL: not a number of messages"),
        ("HEALTH_PORT", "0", "HEALTH_PORT: must be at least 1 (got '0')"),
        ("HEALTH_PORT", "70000", "HEALTH_PORT: must be at most 65535 (got '70000')"),
        ("HEALTH_PORT", "http", "HEALTH_PORT: not a whole number: 'http'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: unknown log format 'xml' (use text or json)"),
    ],
)
def test_a_malformed_value_is_one_sentence_naming_the_variable(env, variable, value, expected):
    assert refusal(env, **{variable: value}).startswith(expected)


def test_a_bad_token_is_not_echoed(env):
    assert "sekrit" not in refusal(env, BOT_TOKEN="12:sekrit token")


def test_several_malformed_values_are_all_named(env):
    sentence = refusal(env, AGENT_IDS="abc", TIMEZONE="Nowhere", LINK_TTL_DAYS="0")
    for variable in ("AGENT_IDS", "TIMEZONE", "LINK_TTL_DAYS"):
        assert variable in sentence


@pytest.mark.parametrize(
    ("value", "ids"),
    [("111,222", [111, 222]), ("111", [111]), ("[111,222]", [111, 222]),
     (" 111 , 222 ", [111, 222]), ("", []), ("[]", [])],
)  # fmt: skip
def test_agent_ids_forms(env, value, ids):
    env.setenv("AGENT_IDS", value)
    env.setenv("SUPERVISOR_IDS", value)
    settings = load_settings()
    assert settings.agent_ids == ids
    assert settings.supervisor_ids == ids


def test_ids_in_a_dotenv_file(env, tmp_path):
    (tmp_path / ".env").write_text("AGENT_IDS=111,222\nAGENT_CHAT_ID=-100123\n")
    settings = load_settings()
    assert settings.agent_ids == [111, 222]
    assert settings.agent_chat_id == -100123


def test_an_unreadable_dotenv_file_is_one_sentence(env, tmp_path):
    (tmp_path / ".env").write_bytes(b"AGENT_IDS=\xff\xfe\n")
    with pytest.raises(StartupError, match=r"^\.env: cannot read it"):
        load_settings()


def test_several_agents_groups_and_the_first_one(env):
    env.setenv("AGENT_CHAT_ID", "-100123,-100456")
    settings = load_settings()
    assert settings.agent_chat_ids == [-100123, -100456]
    assert settings.agent_chat_id == -100123


def test_agent_chat_id_in_code_by_either_name():
    assert Settings(_env_file=None, agent_chat_id=-100123).agent_chat_ids == [-100123]
    assert Settings(_env_file=None, agent_chat_ids=[-1, -2]).agent_chat_id == -1
    assert Settings(_env_file=None, agent_chat_ids=[]).agent_chat_id is None


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///./shop.db", "sqlite+aiosqlite:///./shop.db"),
        ("postgresql://shop@db/shop", "postgresql+asyncpg://shop@db/shop"),
        ("postgres://shop:pw@db:5432/shop", "postgresql+asyncpg://shop:pw@db:5432/shop"),
        ("sqlite+aiosqlite:////var/lib/shop.db", "sqlite+aiosqlite:////var/lib/shop.db"),
        ("postgresql+asyncpg://shop@db/shop", "postgresql+asyncpg://shop@db/shop"),
    ],
)
def test_database_url_gets_the_async_driver(env, given, used):
    env.setenv("DATABASE_URL", given)
    assert load_settings().database_url == used


def test_a_database_password_is_not_echoed(env):
    assert "hunter2" not in refusal(env, DATABASE_URL="mysql://shop:hunter2@db/shop")


def test_well_formed_values_pass(env):
    env.setenv("TIMEZONE", "Europe/Berlin")
    env.setenv("DEFAULT_LOCALE", "en")
    env.setenv("WEBHOOK_URL", "https://bot.example.com/tg/hook")
    env.setenv("LINK_TTL_DAYS", "7")
    env.setenv("EVIDENCE_DIR", "/srv/evidence")
    settings = load_settings()
    assert (settings.timezone, settings.default_locale) == ("Europe/Berlin", "en")
    assert settings.webhook_url == "https://bot.example.com/tg/hook"
    assert settings.link_ttl_days == 7
    assert settings.evidence_dir == Path("/srv/evidence")


def test_defaults(env):
    settings = load_settings()
    assert settings.link_ttl_days == 30
    assert settings.link_secret is None
    assert settings.webhook_url is None
    assert settings.health_port is None and settings.health_host == "127.0.0.1"
    assert settings.log_format == "text"


def test_telegram_rates_default_to_the_limiters_and_are_used(env):
    from bot.ratelimit import Limits

    settings = load_settings()
    default = Limits()
    rates = (settings.telegram_rate_overall, settings.telegram_rate_per_chat,
             settings.telegram_rate_per_group)  # fmt: skip
    assert rates == (default.overall.per_second, default.private.per_second,
                     default.group.per_second)  # fmt: skip
    assert Limits.per_second(*rates) == default


def test_telegram_rates_health_and_log_format_are_read(env):
    env.setenv("TELEGRAM_RATE_OVERALL", "1000")
    env.setenv("TELEGRAM_RATE_PER_CHAT", "2.5")
    env.setenv("TELEGRAM_RATE_PER_GROUP", "1")
    env.setenv("HEALTH_PORT", "9100")
    env.setenv("HEALTH_HOST", "0.0.0.0")
    env.setenv("LOG_FORMAT", " JSON ")
    settings = load_settings()
    assert (settings.telegram_rate_overall, settings.telegram_rate_per_chat,
            settings.telegram_rate_per_group) == (1000.0, 2.5, 1.0)  # fmt: skip
    assert (settings.health_host, settings.health_port) == ("0.0.0.0", 9100)
    assert settings.log_format == "json"


def test_an_empty_health_port_is_off(env):
    env.setenv("HEALTH_PORT", "")
    assert load_settings().health_port is None


# POLICY


def test_an_unknown_policy_lists_the_profiles():
    with pytest.raises(StartupError) as caught:
        check_policy(Settings(_env_file=None, policy="nope"))
    assert str(caught.value) == (
        "POLICY: no profile or file named 'nope' (profiles: standard, t12, t16, t2, t20, t5, t8)"
    )


def test_an_invalid_policy_file_gives_its_first_problem_and_a_count(tmp_path):
    text = (POLICIES_DIR / "standard.yaml").read_text(encoding="utf-8")
    text = text.replace("\nname: standard\n", "\nname: Not A Name\n", 1)
    text = text.replace("\ntimezone: Asia/Shanghai\n", "\ntimezone: Mars/Olympus\n", 1)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StartupError) as caught:
        check_policy(Settings(_env_file=None, policy=str(path)))
    sentence = str(caught.value)
    assert sentence.startswith(f"POLICY: {path}: name: ")
    assert "(and 1 more problem: " in sentence
    assert "\n" not in sentence


def test_a_good_policy_is_returned():
    assert check_policy(Settings(_env_file=None, policy="standard")).name == "standard"


# Secrets `run` and `link` insist on


def secrets_of(**values: str) -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN, **values)


@pytest.mark.parametrize("link_secret", [None, "change-me", "", "fifteen-chars!!"])
def test_run_and_link_refuse_a_missing_default_or_weak_link_secret(link_secret):
    settings = secrets_of() if link_secret is None else secrets_of(link_secret=link_secret)
    with pytest.raises(StartupError, match=r"^LINK_SECRET is (not set|too short)"):
        require_run_secrets(settings, webhook=False)
    with pytest.raises(StartupError, match=r"^LINK_SECRET "):
        require_link_secret(settings)


def test_a_good_link_secret_passes():
    settings = secrets_of(link_secret="x" * 16)
    require_run_secrets(settings, webhook=False)
    assert require_link_secret(settings) == "x" * 16


@pytest.mark.parametrize(
    ("webhook_secret", "expected"),
    [
        (None, "WEBHOOK_SECRET is not set"),
        ("hook-secret", "WEBHOOK_SECRET is too short (11 characters)"),
        ("a+b/" * 10, "WEBHOOK_SECRET has characters Telegram does not allow in secret_token"),
        ("x" * 257, "WEBHOOK_SECRET is too long (257 characters)"),
    ],
)
def test_webhook_refuses_a_missing_or_weak_secret(webhook_secret, expected):
    values = {"link_secret": LINK_SECRET, "webhook_url": "https://bot.example.com/hook"}
    if webhook_secret is not None:
        values["webhook_secret"] = webhook_secret
    settings = secrets_of(**values)
    with pytest.raises(StartupError, match=f"^{re.escape(expected)}"):
        require_run_secrets(settings, webhook=True)
    require_run_secrets(settings, webhook=False)  # polling does not use it


def test_webhook_needs_its_url():
    settings = secrets_of(link_secret=LINK_SECRET, webhook_secret=WEBHOOK_SECRET)
    with pytest.raises(StartupError, match=r"^WEBHOOK_URL is not set"):
        require_run_secrets(settings, webhook=True)


def test_a_good_webhook_secret_passes():
    settings = secrets_of(
        link_secret=LINK_SECRET,
        webhook_url="https://bot.example.com/hook",
        webhook_secret="x" * 256,
    )
    require_run_secrets(settings, webhook=True)


# The `aftersales` command: one line on stderr, exit code 2, before any Telegram call


def aftersales(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    # An address nothing listens on: a start that failed to refuse cannot reach Telegram.
    env = {"PATH": "/usr/bin:/bin", "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": "http://127.0.0.1:9"}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**env, **variables},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], variable: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aftersales: ") and variable in lines[0]
    assert result.stdout == ""
    return lines[0]


def test_run_with_malformed_agent_ids(tmp_path):
    result = aftersales(tmp_path, "run", AGENT_IDS="abc", LINK_SECRET=LINK_SECRET)
    line = assert_refused(result, "AGENT_IDS")
    assert line == "aftersales: AGENT_IDS: not a list of Telegram user ids: 'abc' (write 111,222)"


def test_db_upgrade_with_an_unsupported_database(tmp_path):
    result = aftersales(tmp_path, "db", "upgrade", DATABASE_URL="mysql://x")
    assert_refused(result, "DATABASE_URL")
    assert "'mysql'" in result.stderr


def test_run_refuses_the_published_link_secret(tmp_path):
    assert_refused(aftersales(tmp_path, "run", LINK_SECRET="change-me"), "LINK_SECRET")


def test_run_webhook_refuses_a_weak_webhook_secret(tmp_path):
    result = aftersales(
        tmp_path,
        "run",
        "--webhook",
        LINK_SECRET=LINK_SECRET,
        WEBHOOK_URL="https://bot.example.com/hook",
        WEBHOOK_SECRET="hook-secret",
    )
    assert_refused(result, "WEBHOOK_SECRET")


def test_run_refuses_an_unknown_policy(tmp_path):
    assert_refused(aftersales(tmp_path, "run", LINK_SECRET=LINK_SECRET, POLICY="nope"), "POLICY")


def test_link_refuses_a_missing_link_secret(tmp_path):
    result = aftersales(tmp_path, "link", "DD2026112000123", "--bot-username", "shop_bot")
    assert_refused(result, "LINK_SECRET")
