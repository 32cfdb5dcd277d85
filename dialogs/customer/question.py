"""A question for a person: the shop's FAQ answers first (T14 "first-line answers to common
questions"); "talk to a person" is always one tap away, and a question the FAQ does not know
goes to a person at once, with the customer's words."""

from __future__ import annotations

from typing import Any

from .describe import MAX_DESCRIPTION
from .turn import S, Turn, clean

SHOWN = 2  # answers shown at most: more would bury the one that helps


async def start(turn: Turn) -> None:
    """Asked for a person with nothing at hand: what is the question?"""
    turn.ctx.question = None
    if turn.state is not S.QUESTION:
        turn.fire("ask_question")
    await turn.prompt()


async def ask(turn: Turn) -> None:
    if turn.ctx.question is None:
        turn.ask(turn.t("question/ask"), [[(turn.label("labels/menu"), "menu")]])
        return
    turn.ask(turn.t("question/still"), _after_answer(turn))


async def on(turn: Turn, value: Any) -> None:
    from .common import human

    if value == "menu":
        await turn.to_start(welcome=False)
    elif value == "helped":
        turn.say("question/glad")
        await turn.to_start(welcome=False)
    elif value == "person":
        await human(turn, question=turn.ctx.question or "")
    elif turn.event.kind == "text" and (text := clean(turn.event.text)[:MAX_DESCRIPTION]):
        if not await answer(turn, text):
            await human(turn, question=text)
    else:
        await turn.bad_input()


async def answer(turn: Turn, text: str) -> bool:
    """The FAQ's answers to `text`, with "that helped" and "talk to a person"; False if the
    FAQ has none."""
    faq = turn.info.faq
    found = faq.match(text, turn.conv.locale, limit=SHOWN) if faq is not None else []
    if not found:
        return False
    if turn.state is not S.QUESTION:
        turn.fire("ask_question")
    turn.ctx.question = text
    locale = turn.conv.locale
    entries = [(e.question.get(locale, ""), e.answer.get(locale, "")) for e in found]
    turn.ask(turn.t("question/answers", entries=entries), _after_answer(turn))
    return True


def _after_answer(turn: Turn) -> list[list[tuple[str, Any]]]:
    return [[(turn.label("labels/helped"), "helped"), (turn.label("labels/human"), "person")],
            [(turn.label("labels/menu"), "menu")]]  # fmt: skip
