"""What works in every state: the commands, the language buttons, edits and refused input —
and the entry point that sends everything else to the step the conversation is at."""

from __future__ import annotations

from . import identify
from .common import ask_language, human, status
from .describe import MAX_DESCRIPTION
from .steps import STEPS
from .turn import STALE, S, Turn, clean

# Telegram commands that work in every state.
COMMANDS = ("start", "menu", "cancel", "back", "status", "human", "lang", "help")
DESCRIBED = (S.EVIDENCE, S.SUMMARY)  # states in which the request's description stands


async def run(turn: Turn) -> None:
    ev = turn.event
    if ev.kind == "button":
        value = turn.button_value(ev.data)
        turn.answer_button(stale=value is STALE)
        if value is STALE:
            return
        if isinstance(value, str) and value.startswith("g:"):
            await _global_button(turn, value)
        else:
            await STEPS[turn.state].on(turn, value)
    elif ev.kind == "command":
        await command(turn, ev.command.lower(), ev.text)
    elif ev.refused:
        turn.say(f"common/refused_{ev.refused}", **ev.refused_values)
    elif ev.kind == "edited":
        await _edited(turn)
    elif ev.kind == "unsupported":
        turn.say("common/unsupported")
    else:
        await STEPS[turn.state].on(turn, None)
    # Files of this event that the request did not take are deleted, not left behind.
    kept = {e.get("local_path") for e in turn.draft.evidence}
    turn.discard(m.local_path for m in ev.media if m.local_path not in kept)


async def command(turn: Turn, name: str, arg: str) -> None:
    if name == "start":
        if arg:
            await identify.deep_link(turn, arg)
        await turn.to_start(welcome=True)
    elif name in ("menu", "cancel"):
        if name == "cancel" and (turn.draft.order_id or turn.draft.service):
            turn.say("common/cancelled")
        await turn.to_start(welcome=False)
    elif name == "back":
        await turn.back()
    elif name == "help":
        turn.say("common/help")
        await turn.prompt()
    elif name == "lang":
        ask_language(turn)
    elif not turn.identified and name in ("status", "human"):
        turn.say("common/identify_first")
        await turn.prompt()
    elif name == "status":
        await status(turn)
        await turn.prompt()
    elif name == "human":
        await human(turn)
    else:
        turn.say("common/unknown_command")
        await turn.prompt()


async def _global_button(turn: Turn, value: str) -> None:
    _, _, locale = value.partition(":lang:")
    if locale in ("zh", "en"):
        turn.conv.locale = locale
        turn.edit_target = None
        turn.say("common/lang_set")
    await turn.prompt()


async def _edited(turn: Turn) -> None:
    """An edit of the open request's description replaces it; any other edit is not read,
    and the customer is told so instead of seeing nothing happen."""
    ev, draft = turn.event, turn.draft
    described = turn.state in DESCRIBED and draft.description is not None
    if not described or draft.description_message_id != ev.message_id:
        turn.say("common/edit_not_read")
        return
    text = clean(ev.text, keep_newlines=True)
    if not 2 <= len(text) <= MAX_DESCRIPTION:
        turn.say("describe/edit_refused", max=MAX_DESCRIPTION)
        return
    draft.description = text
    turn.say("describe/updated")
    if turn.state is S.SUMMARY:  # the summary on screen shows the old text: show it anew
        await turn.prompt()
