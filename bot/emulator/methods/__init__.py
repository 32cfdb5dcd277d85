"""Bot API method handlers; importing the package registers them all in HANDLERS."""

from bot.emulator.methods import (
    callbacks,
    chats,
    commands,
    editing,
    files,
    sending,
    topics,
    updates,
)
from bot.emulator.methods.registry import HANDLERS, Handler

__all__ = [
    "HANDLERS",
    "Handler",
    "callbacks",
    "chats",
    "commands",
    "editing",
    "files",
    "sending",
    "topics",
    "updates",
]
