"""The terminal side of the sandbox: read lines without blocking the loop, print the chat.

stdin is read in a daemon thread, one line per request: `loop.connect_read_pipe` cannot take a
regular file (`aftersales sandbox < script.txt`), and a default-executor thread stuck in
`input()` would hold up `asyncio.run`'s shutdown until Enter is pressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot.sandbox.session import SandboxSession

log = logging.getLogger(__name__)
LOOK_INTERVAL = 0.3  # how often, while you type, to look for messages nobody asked for


class LineReader:
    """`await reader.read()`: the next line of stdin, or None at end of input."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        self._loop = asyncio.get_running_loop()
        self._requests: queue.Queue[str] = queue.Queue()
        self._future: asyncio.Future[str | None] | None = None
        if interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401 - gives input() line editing and history
        threading.Thread(target=self._run, name="sandbox-stdin", daemon=True).start()

    def request(self, prompt: str) -> asyncio.Future[str | None]:
        self._future = self._loop.create_future()
        self._requests.put(prompt)
        return self._future

    def _run(self) -> None:
        while True:
            prompt = self._requests.get()
            line: str | None
            try:
                line = input(prompt) if self.interactive else sys.stdin.readline()
            except (EOFError, OSError, ValueError):
                line = None
            if not self.interactive and line == "":
                line = None  # readline() gives "" only at end of input
            self._loop.call_soon_threadsafe(self._deliver, line)
            if line is None:
                return

    def _deliver(self, line: str | None) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(line.rstrip("\r\n") if line is not None else None)


class Console:
    def __init__(self, stream: TextIO, interactive: bool) -> None:
        self.stream = stream
        self.interactive = interactive

    def show(self, lines: Iterable[str]) -> None:
        text = "\n".join(lines)
        if text:
            self.stream.write(text + "\n")
            self.stream.flush()

    def newline(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

    def interrupt(self, lines: list[str], prompt: str) -> None:
        """Messages that arrived while the prompt waits: print them above a fresh prompt."""
        if not self.interactive:
            self.show(lines)
            return
        self.stream.write("\r\x1b[K")
        self.show(lines)
        self.stream.write(prompt + _typed_so_far())
        self.stream.flush()


def _typed_so_far() -> str:
    try:
        import readline
    except ImportError:
        return ""
    return readline.get_line_buffer()


async def chat(session: SandboxSession, console: Console, interactive: bool) -> None:
    """Prompt, send, show the bot's reaction; until :quit, end of input, Ctrl-C or a crash."""
    reader = LineReader(interactive)
    while not session.finished:
        prompt = session.prompt  # who you are and where: the customer, or the agent in a topic
        line = await _next_line(reader, session, console, prompt)
        if line is None:
            if interactive:
                console.newline()  # after ^C or ^D, leave the next output on a line of its own
            return
        if not interactive:
            console.show([prompt + line])  # a transcript of piped input reads like a chat
        try:
            console.show(await session.send_line(line))
        except Exception as exc:  # a sandbox bug must not end the chat; the bot runs on
            log.exception("sandbox command %r failed", line)
            console.show([f"The sandbox could not do that: {exc!r} (details in the log)"])


async def _next_line(
    reader: LineReader, session: SandboxSession, console: Console, prompt: str
) -> str | None:
    line_future = reader.request(prompt)
    stopping = asyncio.ensure_future(session.stopping.wait())
    try:
        while True:
            done, _ = await asyncio.wait({line_future, stopping}, timeout=LOOK_INTERVAL,
                                         return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            if line_future in done:
                return line_future.result()
            if stopping in done or session.bot_stopped:
                return None
            unasked = session.collect()
            if unasked:
                console.interrupt(unasked, prompt)
    finally:
        stopping.cancel()
