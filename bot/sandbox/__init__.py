"""`aftersales sandbox`: chat with the real bot offline, as a demo customer, in a terminal.

The Bot API emulator, the bot (the same `run_polling` path as `aftersales run`) and the
terminal share one event loop. Without --database everything lives in a fresh temporary
folder that is removed at exit (kept when something went wrong, so the log can be read).
See docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot import logs
from bot.sandbox.info import SandboxConfig, banner
from bot.sandbox.terminal import Console, chat


class _Count(logging.Handler):
    """Counts errors the bot logged, so the exit can point at the log."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def main(args: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty()
    ansi = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    try:
        workdir, database = _folders(args.database)
        log_file = database.with_suffix(".log")
        errors = _log_to(log_file)
    except OSError as exc:
        print(f"aftersales sandbox: {exc}", file=sys.stderr)
        return 2
    evidence = database.with_name(database.stem + "-evidence")
    config = SandboxConfig(
        database=database,
        evidence_dir=evidence,
        log_file=log_file,
        language=args.language,
        fresh=workdir is not None,
        ansi=ansi,
    )
    console = Console(sys.stdout, interactive)
    with _terminal_restored(interactive):
        try:
            code = asyncio.run(run(config, console, interactive))
        except KeyboardInterrupt:  # only before the loop could take Ctrl-C over
            code = 130
    logging.shutdown()
    if errors.count:
        console.show([f"The bot logged {errors.count} error(s): see {log_file}"])
    if workdir is not None:
        if errors.count or code == 1:
            console.show([f"Kept {workdir} (database, log, evidence) for a look."])
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


def _folders(database: str | None) -> tuple[Path | None, Path]:
    """(the temporary folder to remove at exit or None, the database file)."""
    if database:
        path = Path(database).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return None, path
    workdir = Path(tempfile.mkdtemp(prefix="aftersales-sandbox-"))
    return workdir, workdir / "sandbox.db"


async def run(config: SandboxConfig, console: Console, interactive: bool) -> int:
    console.show([*banner(config), "Starting the emulator and the bot…"])
    # Imported only now: aiogram takes seconds to load, and the banner says what is coming.
    from bot.sandbox.session import SandboxSession

    session = SandboxSession(config)
    # Ctrl-C stops the chat; run_polling later installs a handler setting the same event.
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, session.stopping.set)
    code = 0
    try:
        await session.start()
        if session.stopping.is_set():
            console.newline()  # after the ^C the terminal echoed
            return code
        console.show([session.style.dim("Ready. Type /start to begin.")])
        await chat(session, console, interactive)
        if session.bot_stopped and not session.stopping.is_set():
            console.show(["The bot stopped unexpectedly; see the log."])
            code = 1
    except asyncio.CancelledError:  # Ctrl-C while aiogram was still loading
        console.newline()
        raise
    except Exception as exc:
        logging.getLogger(__name__).exception("sandbox failed")
        console.show([f"The sandbox failed: {exc!r} (details in {config.log_file})"])
        code = 1
    finally:
        console.show([session.style.dim("Stopping the bot…")])
        console.show(await session.close())
    return code


def _log_to(log_file: Path) -> _Count:
    """Everything to the file, nothing to the terminal: the chat must stay readable."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(logs.FORMAT))
    file_handler.addFilter(logs.MaskPhones())
    counter = _Count()
    root.addHandler(file_handler)
    root.addHandler(counter)
    root.setLevel(logging.INFO)
    logs.quiet_libraries()
    return counter


@contextlib.contextmanager
def _terminal_restored(interactive: bool) -> Any:
    """Exiting while the reader thread sits in readline can leave the tty without echo."""
    saved = None
    if interactive:
        with contextlib.suppress(ImportError, OSError):
            import termios

            saved = termios.tcgetattr(sys.stdin.fileno())
    try:
        yield
    finally:
        if saved is not None:
            import termios

            with contextlib.suppress(OSError):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
