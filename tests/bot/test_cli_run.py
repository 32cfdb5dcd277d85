"""`aftersales run` without a token, and `aftersales link`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from dialogs.links import LinkSigner

SECRET = "k3y-of-16-or-more-characters"


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


ORDER = {
    "order_no": "DD2026112000123",
    "customer": {"phone": "+8613800138000", "name": "王小明"},
    "placed_at": "2026-11-18T10:02:00+08:00",
    "paid_at": "2026-11-18T10:03:10+08:00",
    "status": "paid",
    "items": [{"sku": "A", "name": "Phone", "category": "electronics", "quantity": 1,
               "unit_price": "10.00"}],
}  # fmt: skip


def _shop(tmp_path) -> dict[str, str]:
    env = {"LINK_SECRET": SECRET, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shop.db"}
    orders = tmp_path / "orders.jsonl"
    orders.write_text(json.dumps(ORDER, ensure_ascii=False) + "\n", encoding="utf-8")
    assert _aftersales("orders", "import", str(orders), env=env).returncode == 0
    return env


def test_link_for_an_order_that_does_not_exist_is_refused(tmp_path):
    result = _aftersales("link", "NOPE", "--bot-username", "shop_bot", env=_shop(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert "no order 'NOPE'" in result.stderr and "Traceback" not in result.stderr


def test_link_prints_a_signed_deep_link(tmp_path):
    result = _aftersales(
        "link", "DD2026112000123", "--bot-username", "shop_bot", env=_shop(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith("https://t.me/shop_bot?start=")
    token = url.split("start=", 1)[1]
    assert len(token) <= 64 and token.replace("_", "").replace("-", "").isalnum()
    now = datetime.now(UTC)
    assert LinkSigner(SECRET).order_no(token, now) == "DD2026112000123"
    assert LinkSigner("another secret").order_no(token, now) is None


NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_a_tampered_link_names_no_order():
    signer = LinkSigner(SECRET)
    token = signer.token("DD2026112000123", NOW)
    other = signer.token("DD2026112000124", NOW)
    forged = token[:-16] + other[-16:]
    assert signer.order_no(forged, NOW) is None
    assert signer.order_no("garbage", NOW) is None
    assert signer.order_no("e_", NOW) is None
    # The expiry day is signed too: moving it on breaks the signature.
    later = f"e{int(token[1:5], 16) + 100:04x}" + token[5:]
    assert signer.order_no(later, NOW) is None


def test_a_link_stops_working_after_its_days():
    signer = LinkSigner(SECRET, ttl_days=7)
    token = signer.token("DD2026112000123", NOW)
    assert signer.order_no(token, NOW + timedelta(days=7)) == "DD2026112000123"
    assert signer.order_no(token, NOW + timedelta(days=8)) is None
    assert signer.expires(NOW) == datetime(2026, 12, 10, tzinfo=UTC)
