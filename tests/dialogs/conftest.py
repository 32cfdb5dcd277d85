from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialogs.clock import FrozenClock
from storage.db import Database
from tests.dialogs.harness import Service, make_service

# Thursday 26 November 2026, 10:00 in Shanghai.
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def service(db: Database, clock: FrozenClock) -> Service:
    return make_service(db, clock)
