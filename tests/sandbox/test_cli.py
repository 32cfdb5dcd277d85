"""`aftersales sandbox` as a process: piped stdin, Ctrl-C, the temporary folder cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

TIMEOUT = 120


def command() -> list[str]:
    script = Path(sys.executable).with_name("aftersales")
    return (
        [str(script), "sandbox"]
        if script.exists()
        else [sys.executable, "-m", "bot.cli", "sandbox"]
    )


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_URL"))}
    return {**env, "TMPDIR": str(tmp_path), "NO_COLOR": "1"}


def test_piped_stdin_chat(tmp_path: Path) -> None:
    done = subprocess.run(
        command(),
        input=":contact\n1\n:agents\n:customer\n:quit\n",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=environment(tmp_path),
        cwd=tmp_path,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, (out, done.stderr)
    assert "After-sales bot sandbox" in out
    assert "[customer] > :contact\n🤖 验证成功，王小明，欢迎！" in out
    assert "   [1] 🧾 申请售后" in out
    assert "[customer] > 1\n(pressed 🧾 申请售后)\n🤖 (edited) DD" in out
    assert "请选择订单" in out
    assert "[customer] > :agents\nAgents' group" in out
    assert "[agent · topics] > :customer\nYou are 王小明, the customer, again." in out
    assert "[customer] > :quit\nStopping the bot…" in out
    assert "\x1b[" not in out  # not a terminal: no ANSI codes
    assert "refused" not in out  # no malformed Bot API request
    assert done.stderr == ""
    # The fresh per-run folder was removed (jieba, the FAQ's word splitter, keeps its
    # dictionary cache in the temporary folder: that is no sandbox leftover).
    assert [p.name for p in tmp_path.iterdir() if p.name != "jieba.cache"] == []


def test_ctrl_c_stops_the_bot_gracefully(tmp_path: Path) -> None:
    process = subprocess.Popen(
        command(),
        stdin=subprocess.PIPE,  # left open: the sandbox waits for input until Ctrl-C
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("Ready."):
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, (seen, out, err)
    assert "Stopping the bot…" in out
    assert err == ""
