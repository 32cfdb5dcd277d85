"""`aftersales run` without a token, and `aftersales link`."""

from __future__ import annotations

import subprocess
import sys

from dialogs.links import LinkSigner


def _aftersales(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_without_a_token_points_to_the_sandbox(tmp_path):
    result = _aftersales("run", env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr  # one sentence, no traceback
    assert "BOT_TOKEN" in result.stderr and "aftersales sandbox" in result.stderr


def test_link_prints_a_signed_deep_link():
    result = _aftersales(
        "link", "DD2026112000123", "--bot-username", "shop_bot", env={"LINK_SECRET": "k3y"}
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith("https://t.me/shop_bot?start=")
    token = url.split("start=", 1)[1]
    assert len(token) <= 64 and token.replace("_", "").replace("-", "").isalnum()
    assert LinkSigner("k3y").order_no(token) == "DD2026112000123"
    assert LinkSigner("another secret").order_no(token) is None


def test_a_tampered_link_names_no_order():
    signer = LinkSigner("k3y")
    token = signer.token("DD2026112000123")
    other = signer.token("DD2026112000124")
    forged = token[:-16] + other[-16:]
    assert signer.order_no(forged) is None
    assert signer.order_no("garbage") is None
    assert signer.order_no("o_") is None
