"""Photos or videos as the policy asks for them; an album is one answer."""

from __future__ import annotations

from typing import Any

from dialogs.events import MediaFile

from .state import ConversationState
from .turn import S, Turn

MAX_EVIDENCE = 10


def evidence_slots(conv: ConversationState) -> int:
    """How many more files this conversation would keep right now (0: it asks for none), so
    that nothing else is downloaded: a stranger's photos, an album past the maximum."""
    if conv.customer_id is None or conv.state != S.EVIDENCE.value:
        return 0
    return max(0, MAX_EVIDENCE - len(conv.context.draft.evidence))


async def _need(turn: Turn) -> tuple[str, int]:
    _, item = await turn.item()
    draft = turn.draft
    assert draft.service is not None and draft.reason is not None
    need = turn.policy.evidence(draft.service, draft.reason, item.category)
    return (need.kind, need.count) if need else ("photo", 0)


async def auto(turn: Turn) -> bool:
    _, count = await _need(turn)
    if count == 0:
        turn.fire("evidence_done")
        return True
    return False


async def ask(turn: Turn) -> None:
    kind, count = await _need(turn)
    have = len(turn.draft.evidence)
    rows: list[list[tuple[str, Any]]] = []
    if have >= count:
        rows.append([(turn.label("labels/done"), "done")])
    rows.append(turn.back_row())
    turn.ask(turn.t("evidence/ask", kind=kind, count=count, have=have, max=MAX_EVIDENCE), rows)


async def on(turn: Turn, value: Any) -> None:
    if value == "back":
        await turn.back()
        return
    kind, count = await _need(turn)
    evidence = turn.draft.evidence
    if value == "done":
        if len(evidence) < count:
            await turn.bad_input("evidence/need_more", missing=count - len(evidence))
            return
        turn.fire("evidence_done")
        await turn.enter()
        return
    ev = turn.event
    if ev.kind != "media":
        await turn.bad_input("evidence/send_photos" if ev.kind == "text" else "common/not_here",
                             kind=kind)  # fmt: skip
        return
    accepted = [m for m in ev.media if _accepts(kind, m)]
    if not accepted:
        await turn.bad_input("evidence/wrong_kind", kind=kind)
        return
    known = {e["file_unique_id"] for e in evidence}
    for m in accepted:
        if m.file_unique_id in known or len(evidence) >= MAX_EVIDENCE:
            continue
        known.add(m.file_unique_id)
        evidence.append(
            {"kind": m.kind, "file_id": m.file_id, "file_unique_id": m.file_unique_id,
             "media_group_id": ev.media_group_id, "local_path": m.local_path,
             "sha256": m.sha256, "size_bytes": m.size_bytes}
        )  # fmt: skip
    # One answer, not "received" and then the question again: the question says how many
    # arrived, how many are missing, and offers "Done" once there are enough.
    turn.edit_target = None
    await turn.prompt()


def _accepts(wanted: str, media: MediaFile) -> bool:
    mime = media.mime_type or ""
    is_image = media.kind == "photo" or (media.kind == "document" and mime.startswith("image/"))
    is_video = media.kind == "video" or (media.kind == "document" and mime.startswith("video/"))
    if wanted == "video":
        return is_video
    if wanted == "photo_or_video":
        return is_image or is_video
    return is_image  # photo, proof_of_purchase (a photo of the receipt)
