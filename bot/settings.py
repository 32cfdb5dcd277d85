"""Configuration from the environment or `.env` (pydantic-settings), typed and frozen."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    bot_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./aftersales.db"
    agent_chat_id: int | None = None
    policy: str = "standard"
    default_locale: str = "zh"
    timezone: str = "Asia/Shanghai"
    evidence_dir: Path = Path("./evidence")
    bot_username: str | None = None  # for `aftersales link` without a token at hand
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    link_secret: SecretStr = SecretStr("change-me")
    agent_ids: list[int] = []
    supervisor_ids: list[int] = []
    return_address: str = (
        "上海市浦东新区示例路 88 号 售后部 收 (After-sales Dept., 88 Example Rd, Pudong, Shanghai)"
    )
    shop_name: str = "Demo Shop"


def load_settings() -> Settings:
    return Settings()
