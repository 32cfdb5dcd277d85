"""Where an approved item goes back to and how: the warehouse a profile's service or category
names, courier pickup (上门取件) where the profile offers it, and the days and hours a courier
can come. Pure: the profile and the calendar decide, nothing is stored here."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dialogs.policy import Policy

PICKUP_WINDOWS = ("09-12", "12-15", "15-18")  # local hours a courier can come
PICKUP_DAYS = 3  # working days offered, from tomorrow
_LOOK_AHEAD = 60  # days searched for them (a long holiday is shorter)


def warehouse_for(policy: Policy, service: str, category: str) -> str | None:
    """The warehouse code the profile sends this item's goods to (the category's over the
    service's); None: the shop's default warehouse."""
    spec = policy.spec
    found = spec.categories.get(category)  # type: ignore[call-overload]
    if found is not None and found.warehouse:
        return str(found.warehouse)
    svc = spec.services.get(service)  # type: ignore[call-overload]
    return str(svc.warehouse) if svc is not None and svc.warehouse else None


def by_pickup(policy: Policy, service: str | None) -> bool:
    """Whether a courier collects the goods of this service (the profile's return_method)."""
    svc = policy.spec.services.get(service or "")  # type: ignore[call-overload]
    return svc is not None and svc.goods_back and svc.return_method == "pickup"


def pickup_days(policy: Policy, now: datetime, ship_by: datetime | None) -> list[date]:
    """The next working days a courier can come (from tomorrow, local time), not after the
    ship-back deadline where there is one (the first of them at least)."""
    calendar = policy.calendar
    day = calendar.local(now).date()
    days: list[date] = []
    for _ in range(_LOOK_AHEAD):
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            days.append(day)
            if len(days) == PICKUP_DAYS:
                break
    if ship_by is not None:
        last = calendar.local(ship_by).date()
        days = [d for d in days if d <= last] or days[:1]
    return days


def window_hours(window: str) -> tuple[int, int]:
    """The hours of a window: "09-12" → (9, 12)."""
    start, _, end = window.partition("-")
    return int(start), int(end)
