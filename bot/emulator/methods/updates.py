"""getMe, getUpdates, webhooks, logOut/close."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.errors import bad_request, state_error
from bot.emulator.methods.registry import handles
from bot.emulator.webhook import WebhookConfig

MAX_POLL_TIMEOUT = 50  # seconds; Telegram caps long polling similarly


@handles("getMe")
async def get_me(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    me = emu.bot_user()
    me.update(
        can_join_groups=True,
        can_read_all_group_messages=False,
        supports_inline_queries=False,
    )
    return emu.objects.complete("User", me)


@handles("getUpdates")
async def get_updates(emu: EmulatorCore, p: dict[str, Any], method: str) -> list[dict[str, Any]]:
    if emu.webhook.active:
        raise state_error(
            "can't use getUpdates method while webhook is active; use deleteWebhook to delete "
            "the webhook first",
            409,
        )
    limit = p.get("limit", 100)
    if not 1 <= limit <= 100:
        limit = min(max(limit, 1), 100)  # Telegram clamps rather than refuses
    timeout = max(0, min(p.get("timeout", 0), MAX_POLL_TIMEOUT))
    if "allowed_updates" in p:
        emu.updates.set_allowed(p["allowed_updates"])
    if "offset" in p:
        emu.updates.confirm(p["offset"])
    generation = emu.updates.start_poll()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        batch = emu.updates.collect(limit)
        if batch:
            return batch
        if not emu.updates.is_current_poll(generation):
            raise state_error(
                "terminated by other getUpdates request; make sure that only one bot instance "
                "is running",
                409,
            )
        remaining = deadline - loop.time()
        if remaining <= 0:
            return []
        await emu.updates.wait_new(remaining)


@handles("setWebhook")
async def set_webhook(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    url = p["url"]
    if url and not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: HTTPS url must be provided for webhook")
    secret = p.get("secret_token")
    if secret is not None and not (
        1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)
    ):
        raise bad_request("secret token contains unallowed characters")
    max_connections = p.get("max_connections", 40)
    if not 1 <= max_connections <= 100:
        raise bad_request("max_connections must be 1-100")
    if p.get("drop_pending_updates"):
        emu.updates.clear()
    if "allowed_updates" in p:
        emu.updates.set_allowed(p["allowed_updates"])
    await emu.webhook.set(
        WebhookConfig(
            url=url,
            secret_token=secret,
            max_connections=max_connections,
            allowed_updates=p.get("allowed_updates"),
            ip_address=p.get("ip_address"),
        )
    )
    return True


@handles("deleteWebhook")
async def delete_webhook(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    await emu.webhook.stop()
    if p.get("drop_pending_updates"):
        emu.updates.clear()
    return True


@handles("getWebhookInfo")
async def get_webhook_info(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    config, stats = emu.webhook.config, emu.webhook.stats
    info: dict[str, Any] = {
        "url": config.url,
        "has_custom_certificate": False,
        "pending_update_count": emu.webhook.pending_count() if config.url else len(emu.updates),
    }
    if config.url:
        info["max_connections"] = config.max_connections
        if config.ip_address:
            info["ip_address"] = config.ip_address
        if config.allowed_updates:
            info["allowed_updates"] = config.allowed_updates
        if stats.last_error_date is not None:
            info["last_error_date"] = stats.last_error_date
            info["last_error_message"] = stats.last_error_message
    return info


@handles("logOut", "close")
async def log_out(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    return True
