"""Errors that end a command with one sentence for the operator, never a traceback."""

from __future__ import annotations


class StartupError(Exception):
    """Something the operator must fix (a setting, the token, a second instance).

    `str()` is one sentence naming what is wrong and, where it helps, how to fix it. The
    `aftersales` command prints it and exits with `exit_code`.
    """

    def __init__(self, sentence: str, exit_code: int = 2) -> None:
        super().__init__(sentence)
        self.exit_code = exit_code
