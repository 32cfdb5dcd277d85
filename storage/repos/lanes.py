"""Lane leases: with several workers on one database, a customer's lane is worked by one
worker at a time, so that customer's updates are handled once each and in Telegram's order.

A worker that stores an update claims its lane in the same transaction (`claim`): it wins
when nobody holds the lane, when it holds it already, or when the holder's lease ran out (the
holder died). A worker that lost the claim leaves its row pending; the holder takes it up
(`pending`), because before it lets the lane go it looks once more (see `bot/claims.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, true, update

from storage.models import Inbox, Lane
from storage.repos.base import Repo, dialect_insert, on_postgresql, one_of

_lanes = Lane.__table__
_inbox = Inbox.__table__
# How many ids below an update are looked at for one still on its way: Telegram numbers all
# the bot's updates in one sequence, so with many chats talking at once a chat's previous
# update can be dozens of ids below (rows already stored are found by the lane's holder).
SPAN = 64


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A stored update nobody finished yet."""

    id: int
    update_id: int
    payload: dict[str, Any]


class LaneRepo(Repo):
    async def claim(
        self, lanes: Sequence[int], holder: str, now: datetime, until: datetime
    ) -> set[int]:
        """Take these lanes for `holder` until `until`; the ones it holds now."""
        if not lanes:
            return set()
        stmt = dialect_insert(self.session, _lanes)
        stmt = stmt.on_conflict_do_update(
            index_elements=["lane"],
            set_={"holder": stmt.excluded.holder, "until": stmt.excluded.until},
            where=or_(
                _lanes.c.holder.is_(None),
                _lanes.c.holder == stmt.excluded.holder,
                _lanes.c.until <= bindparam("now", type_=_lanes.c.until.type),
            ),
        ).returning(_lanes.c.lane)
        # Sorted: two workers claiming overlapping lanes lock the rows in the same order.
        rows = [{"lane": lane, "holder": holder, "until": until} for lane in sorted(set(lanes))]
        won: set[int] = set()
        for row in rows:  # RETURNING of an upsert per row: executemany drops it on some drivers
            result = await self.session.execute(stmt, {**row, "now": now})
            won.update(r[0] for r in result)
        return won

    async def release(self, lane: int, holder: str) -> None:
        await self.release_many([lane], holder)

    async def release_many(self, lanes: Sequence[int], holder: str) -> None:
        which = one_of(_lanes.c.lane, "lanes", array=on_postgresql(self.session))
        await self._update_held(which, holder, {"lanes": sorted(set(lanes))}, holder=None,
                                until=None)  # fmt: skip

    async def release_all(self, holder: str) -> None:
        await self._update_held(true(), holder, until=None, holder=None)

    async def renew(self, holder: str, until: datetime) -> None:
        """Push the lease of every lane `holder` holds to `until` (it is alive)."""
        await self._update_held(true(), holder, until=until)

    async def _update_held(
        self, which: Any, owner: str, params: dict[str, Any] | None = None, **values: Any
    ) -> None:
        """Update the lanes `owner` holds (of those `which` picks), locking their rows in lane
        order first: every statement
        that locks several lane rows takes them in that order (claims are sorted too), so
        a sweep claiming lanes and a holder renewing its own never deadlock."""
        held = (
            select(_lanes.c.lane)
            .where(which, _lanes.c.holder == owner)
            .order_by(_lanes.c.lane)
            .with_for_update()
        )
        await self.session.execute(
            update(_lanes).where(_lanes.c.lane.in_(held)).values(**values), params or {}
        )

    async def pending(self, lane: int, limit: int = 50) -> list[PendingRow]:
        """The lane's unfinished updates in Telegram's order (then the order of arrival)."""
        rows = await self.session.execute(
            select(_inbox.c.id, _inbox.c.update_id, _inbox.c.payload)
            .where(_inbox.c.lane == lane, _inbox.c.status == "pending")
            .order_by(_inbox.c.update_id, _inbox.c.id)
            .limit(limit)
        )
        return [PendingRow(r.id, r.update_id, r.payload) for r in rows]

    async def pending_of(
        self, lanes: set[int], exclude: set[int], limit: int = 200
    ) -> list[tuple[int, PendingRow]]:
        """The unfinished updates of these lanes but the `exclude`d rows, by lane."""
        if not lanes:
            return []
        rows = await self.session.execute(
            select(_inbox.c.lane, _inbox.c.id, _inbox.c.update_id, _inbox.c.payload)
            .where(
                one_of(_inbox.c.lane, "lanes", array=on_postgresql(self.session)),
                _inbox.c.status == "pending",
            )
            .order_by(_inbox.c.update_id, _inbox.c.id)
            .limit(limit),
            {"lanes": sorted(lanes)},
        )
        return [(r.lane, PendingRow(r.id, r.update_id, r.payload)) for r in rows
                if r.id not in exclude]  # fmt: skip

    async def orphaned(
        self, holder: str, now: datetime, stored_before: datetime, limit: int = 200,
        working: Collection[int] = (),
    ) -> list[int]:  # fmt: skip
        """Lanes with updates stored before `stored_before` and still unfinished that no other
        worker holds (or whose holder's lease ran out): work a dead worker left behind, or
        that `holder` itself dropped (a lane whose worker met an error). Not the lanes
        `holder` is `working` on now: in a backlog they filled the `limit`, sweep after sweep,
        while a dead worker's lanes waited behind them."""
        held = select(_lanes.c.lane).where(
            _lanes.c.holder.is_not(None), _lanes.c.holder != holder, _lanes.c.until > now
        )
        rows = await self.session.scalars(
            select(_inbox.c.lane)
            .where(
                _inbox.c.status == "pending",
                _inbox.c.received_at < stored_before,
                _inbox.c.lane.is_not(None),
                _inbox.c.lane.not_in(held),
                _inbox.c.lane.not_in(sorted(working)),
            )
            .group_by(_inbox.c.lane)
            .order_by(func.min(_inbox.c.id))
            .limit(limit)
        )
        return list(rows)

    async def missing_below(
        self, update_ids: Sequence[int], since: datetime, span: int = SPAN
    ) -> set[int]:
        """Of these update ids, those for which `missing_before` holds (one statement)."""
        if not update_ids:
            return set()
        seen = await self._seen(min(update_ids) - span, max(update_ids), since)
        return {u for u in update_ids if _holes_below(u, seen, span)}

    async def missing_before(self, update_id: int, since: datetime, span: int = SPAN) -> set[int]:
        """The update ids just below `update_id` that are missing while their neighbours came
        in recently: Telegram's ids increase one by one, so a hole is an update still on its
        way (webhook deliveries run in parallel). Ids seen long ago, or none at all (the first
        update after a quiet spell, ids started anew), mean nothing is missing."""
        return _holes_below(update_id, await self._seen(update_id - span, update_id - 1, since),
                            span)  # fmt: skip

    async def _seen(self, low: int, high: int, since: datetime) -> set[int]:
        return set(
            await self.session.scalars(
                select(_inbox.c.update_id).where(
                    _inbox.c.update_id >= low,
                    _inbox.c.update_id <= high,
                    _inbox.c.received_at >= since,
                )
            )
        )


def _holes_below(update_id: int, seen: set[int], span: int) -> set[int]:
    near = [i for i in seen if update_id - span <= i < update_id]
    if not near:  # nothing near: the first after a quiet spell, or ids started anew
        return set()
    return {i for i in range(min(near) + 1, update_id) if i not in seen}
