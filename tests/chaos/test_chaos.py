"""The promises of the inbox and the outbox with several workers, under faults: nothing lost,
nothing done twice, every chat in order, every conversation where its customer took it.

Both runs start a PostgreSQL server of their own (a restart must touch no other test) and
real `aftersales run --webhook` processes behind a round-robin proxy; they run in CI's
PostgreSQL pass (their ids say postgresql) and are skipped without TEST_DATABASE_URL, like the
other PostgreSQL tests. The figures of a run go to README ("Several workers").
"""

from __future__ import annotations

import json
import os

import pytest

from tests.chaos import cluster
from tests.chaos.load import Options, run

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL") or not cluster.available(),
        reason="needs PostgreSQL (TEST_DATABASE_URL set, initdb and pg_ctl installed)",
    ),
    # One after the other on one xdist worker (`--dist loadgroup`): each run loads the machine.
    pytest.mark.xdist_group("chaos"),
]


def assert_clean(result: dict, *, kills: bool) -> None:
    print(json.dumps(result, indent=2))  # shown with -s, and on failure
    assert result["quiescent"], "work was left over"
    assert result["worker_crashes"] == 0, "a worker exited by itself (its log is in logs)"
    if kills:
        # A message a killed worker was sending is "in doubt" and never sent again (at most
        # once): its customer may stop short. No one else may.
        assert result["stuck_without_doubt"] == [], (
            result["stuck"],
            result["stuck_timelines"],
            result["fault_times"],
        )
    else:
        assert result["stuck_count"] == 0, result["stuck"]
        assert result["finished"] == result["customers"]
    assert result["lost_updates"] == 0
    assert result["updates_failed"] == 0
    assert result["updates_stored_twice"] == 0
    assert result["duplicate_cases"] == 0
    assert result["messages_sent_twice"] == 0
    assert result["messages_given_up"] == 0, result["messages_given_up_examples"]
    assert result["out_of_order_replies"] == 0
    # Each chat's updates handled in update_id order. The one exception needs a kill: an update
    # whose delivery died with its worker and came again more than SETTLE after the one
    # behind it; the bot cannot wait for what it has not heard of (README, "Several workers").
    assert result["handled_out_of_order"] == result["handled_out_of_order_late"], result[
        "handled_out_of_order_examples"
    ]
    if not kills:
        assert result["handled_out_of_order_late"] == 0
    assert result["ended_wrong"] == 0, result["ended_wrong_examples"]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_three_workers_500_customers_sigkills_and_a_database_restart(backend: str):
    # CHAOS_CUSTOMERS: fewer customers for a quick try by hand; CI runs the full 500.
    customers = int(os.environ.get("CHAOS_CUSTOMERS", "500"))
    result = await run(Options(customers=customers, workers=3, kill_every=6.0))
    assert_clean(result, kills=True)
    assert result["faults"]["sigkills"] >= 3
    assert result["faults"]["postgres_restarts"] == 1
    assert result["faults"]["duplicated_deliveries"] > 0
    assert result["faults"]["webhook_redeliveries"] > 0


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_two_replicas_behind_round_robin_keep_each_chats_order(backend: str):
    result = await run(Options(customers=60, workers=2, kills=False, postgres_restart=False,
                               duplicate=0.05, lose_answer=0.05))  # fmt: skip
    assert_clean(result, kills=False)
    assert result["messages_in_doubt"] == 0  # no worker died: nothing can be in doubt
