"""What works in every state: the commands, the language buttons, edits and refused input —
and the entry point that sends everything else to the step the conversation is at."""

from __future__ import annotations

from . import aftercare, agent, identify, survey
from .common import MISSES_FOR_A_PERSON, ask_language, human, status
from .describe import MAX_DESCRIPTION
from .steps import STEPS
from .turn import STALE, S, Turn, clean

# Telegram commands that work in every state.
COMMANDS = ("start", "menu", "cancel", "back", "status", "human", "complain", "lang", "help")
DESCRIBED = (S.EVIDENCE, S.SUMMARY)  # states in which the request's description stands


async def run(turn: Turn) -> None:
    if await survey.take(turn):  # the satisfaction survey's taps and comment, in any state
        return
    ev = turn.event
    if ev.kind == "button":
        value = turn.button_value(ev.data)
        step = None
        if isinstance(value, str) and value.startswith("lc:"):
            step = await aftercare.button_case(turn, value)  # None: not the customer's case
            value = value if step is not None else STALE
        turn.answer_button(stale=value is STALE)
        if value is STALE:
            return
        if step is not None:
            await aftercare.start(turn, *step)
        elif isinstance(value, str) and value.startswith("g:"):
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
        if turn.state is not S.WITH_AGENT or not await agent.unsupported(turn):
            turn.say("common/unsupported")
    else:
        await STEPS[turn.state].on(turn, None)
    await _count_misses(turn)
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
    elif not turn.identified and name in ("status", "human", "complain"):
        turn.say("common/identify_first")
        await turn.prompt()
    elif name == "status":
        await status(turn)
        await turn.prompt()
    elif name == "human":
        await human(turn)
    elif name == "complain":
        await agent.complain(turn, None)
    else:
        turn.say("common/unknown_command")
        await turn.prompt()


async def _count_misses(turn: Turn) -> None:
    """Three inputs in a row not understood: a person takes over instead of a fourth try."""
    if not turn.missed:
        turn.ctx.misses = 0
        return
    turn.ctx.misses += 1
    stuck = turn.ctx.misses >= MISSES_FOR_A_PERSON
    if stuck and turn.identified and turn.state not in (S.WITH_AGENT, S.QUESTION):
        # No FAQ detour: the customer asked nothing, the bot failed them. The last words
        # go with the case for the person who answers.
        await human(turn, question=clean(turn.event.text)[:MAX_DESCRIPTION])
        turn.ctx.misses = 0


async def _global_button(turn: Turn, value: str) -> None:
    if value == "g:menu":
        await turn.to_start(welcome=False)
        return
    parts = value.split(":")
    if len(parts) == 4 and parts[1] == "offer" and parts[3].isdigit() and turn.identified:
        await agent.offer_answer(turn, int(parts[3]), accepted=parts[2] == "yes")
        return
    if len(parts) == 3 and parts[1] == "order" and parts[2].isdigit() and turn.identified:
        # A person suggested a request for one of the customer's orders (checked: theirs).
        turn.ctx.link_order_id = int(parts[2])
        await identify.follow_link(turn)
        return
    if len(parts) == 3 and parts[1] == "complain" and parts[2].isdigit() and turn.identified:
        await agent.complain(turn, int(parts[2]))
        return
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
