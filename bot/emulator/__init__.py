"""A local Telegram Bot API emulator for tests, the offline sandbox and benchmarks.

It never imports aiogram: it is the server side, validated against the Bot API spec in
tests/data/telegram/bot-api.json. See docs/emulator.md.
"""

from bot.emulator.emulator import Emulator
from bot.emulator.errors import ErrorRecord
from bot.emulator.server import EmulatorServer
from bot.emulator.state import CallbackRecord, CallRecord, SentMessage, SimChat, SimUser

__all__ = [
    "CallRecord",
    "CallbackRecord",
    "Emulator",
    "EmulatorServer",
    "ErrorRecord",
    "SentMessage",
    "SimChat",
    "SimUser",
]
