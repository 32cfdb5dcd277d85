"""The conditions the policy asks the customer to confirm (unused, packaging intact, ...),
one question each; a "no" is remembered so a refusal can say "you answered no, so ..."."""

from __future__ import annotations

from typing import Any

from .turn import Turn


async def _queue(turn: Turn) -> list[str]:
    draft = turn.draft
    assert draft.service is not None and draft.reason is not None
    return turn.policy.conditions(draft.service, draft.reason, await turn.facts(), turn.now)


async def auto(turn: Turn) -> bool:
    if turn.draft.cond_index >= len(await _queue(turn)):
        turn.fire("conditions_done")
        return True
    return False


async def ask(turn: Turn) -> None:
    queue = await _queue(turn)
    index = min(turn.draft.cond_index, len(queue) - 1)
    turn.ask(
        turn.t("conditions/ask", condition=queue[index], number=index + 1, total=len(queue)),
        [
            [(turn.label("labels/yes"), "yes"), (turn.label("labels/no"), "no")],
            turn.back_row(),
        ],
    )


async def on(turn: Turn, value: Any) -> None:
    if value == "back":
        await turn.back()
        return
    if value not in ("yes", "no"):
        await turn.bad_input()
        return
    draft = turn.draft
    queue = await _queue(turn)
    index = draft.cond_index
    if index < len(queue):
        (draft.conditions if value == "yes" else draft.declined).append(queue[index])
    draft.cond_index = index + 1
    if index + 1 >= len(queue):
        turn.fire("conditions_done")
        await turn.enter()
    else:
        await turn.prompt()
