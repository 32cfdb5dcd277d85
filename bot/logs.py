"""Logging as `aftersales run` and the sandbox set it up."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def quiet_libraries() -> None:
    """transitions reports every state entry and exit at INFO: two lines per customer step,
    which buried the bot's own lines and took about 3 % of its time under load (cProfile).
    The case and conversation rows already record what happened."""
    logging.getLogger("transitions").setLevel(logging.WARNING)
