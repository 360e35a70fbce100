"""The conversation store on its own: what is written is read back, by any instance, until it
expires; one instance at a time handles a chat; a write never overwrites state another instance
wrote after it was read."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from models import ConversationRow
from services.clock import ManualClock
from services.conversations import Conflict, ConversationStore, OpenFlow
from services.events import EventDraft

NEWEVENT = OpenFlow("newevent", 2, "/newevent")


async def test_a_flow_and_its_drafts_are_read_back_as_written(
    database: str, clock: ManualClock
) -> None:
    store = ConversationStore(clock, timedelta(hours=2))
    fresh = await store.claim(42, 42)
    assert fresh.empty
    await store.release(fresh, NEWEVENT, {"draft": EventDraft(title="Launch party")})

    read = await store.claim(42, 42)
    assert read.flow == NEWEVENT
    assert read.data["draft"].title == "Launch party"
    # The form moves on: the draft changed in place and the state with it.
    read.data["draft"].venue = "Alchemist"
    await store.release(read, OpenFlow("newevent", 5, "/newevent"), read.data)

    again = await store.claim(42, 42)
    assert again.flow == OpenFlow("newevent", 5, "/newevent")
    assert again.data["draft"].venue == "Alchemist"
    await store.release(again, again.flow, again.data)  # unchanged: only let go
    row = await ConversationRow.get(chat_id=42)
    assert (row.version, row.busy_by) == (again.version, None)

    other = await store.claim(43, 43)  # another chat: nothing open, and no row kept after
    assert other.empty
    await store.release(other, None, {})
    # Ended with nothing left: the row is gone.
    await store.release(await store.claim(42, 42), None, {})
    assert await ConversationRow.all().count() == 0


async def test_two_instances_share_one_database_one_at_a_time(
    database: str, clock: ManualClock
) -> None:
    first, second = ConversationStore(clock), ConversationStore(clock)
    held = await first.claim(7, 7)
    waiting = asyncio.create_task(second.claim(7, 7))
    await asyncio.sleep(0.1)  # the second instance keeps looking while the first holds it
    assert not waiting.done()
    await first.release(held, NEWEVENT, {"draft": EventDraft(title="Gig")})
    on_second = await asyncio.wait_for(waiting, 5)
    assert on_second.flow == NEWEVENT  # started on the first, continued on the second
    assert on_second.data["draft"].title == "Gig"
    await second.release(on_second, OpenFlow("newevent", 3, "/newevent"), on_second.data)
    assert (await first.claim(7, 7)).flow == OpenFlow("newevent", 3, "/newevent")


async def test_a_claim_left_by_a_killed_instance_lapses_and_its_late_write_is_refused(
    database: str, clock: ManualClock
) -> None:
    killed = ConversationStore(clock, lease=timedelta(seconds=60))
    survivor = ConversationStore(clock, lease=timedelta(seconds=60))
    await killed.release(await killed.claim(8, 8), NEWEVENT, {})
    stale = await killed.claim(8, 8)  # ...and never released
    clock.advance(timedelta(seconds=61))
    taken = await asyncio.wait_for(survivor.claim(8, 8), 5)
    assert taken.flow == NEWEVENT
    await survivor.release(taken, OpenFlow("newevent", 4, "/newevent"), {})
    with pytest.raises(Conflict):
        await killed.release(stale, OpenFlow("newevent", 9, "/newevent"), {})
    assert (await survivor.claim(8, 8)).flow == OpenFlow("newevent", 4, "/newevent")


async def test_an_instance_restarted_under_its_name_takes_back_its_claim_at_once(
    database: str, clock: ManualClock
) -> None:
    crashed = ConversationStore(clock, owner="host-a:8080")
    await crashed.release(await crashed.claim(10, 10), NEWEVENT, {})
    await crashed.claim(10, 10)  # killed mid-update: never released
    restarted = ConversationStore(clock, owner="host-a:8080")
    other = ConversationStore(clock, owner="host-b:8080")
    assert (await asyncio.wait_for(restarted.claim(10, 10), 5)).flow == NEWEVENT  # no wait
    with pytest.raises(TimeoutError):  # held for the restarted instance now
        await asyncio.wait_for(other.claim(10, 10), 0.3)


async def test_a_long_update_keeps_its_claim_by_renewing_it(
    database: str, clock: ManualClock
) -> None:
    slow = ConversationStore(clock, lease=timedelta(seconds=15), owner="host-a:8080")
    other = ConversationStore(clock, lease=timedelta(seconds=15), owner="host-b:8080")
    held = await slow.claim(11, 11)
    clock.advance(timedelta(seconds=10))
    await slow.renew(11, 11)
    clock.advance(timedelta(seconds=10))  # 20 s after the claim, 10 after the renewal
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(other.claim(11, 11), 0.3)
    await slow.release(held, NEWEVENT, {})
    assert (await asyncio.wait_for(other.claim(11, 11), 5)).flow == NEWEVENT


async def test_an_abandoned_flow_expires_after_the_ttl(database: str, clock: ManualClock) -> None:
    store = ConversationStore(clock, timedelta(minutes=30))
    await store.release(await store.claim(5, 5), NEWEVENT, {"draft": EventDraft()})
    clock.advance(timedelta(minutes=29))
    read = await store.claim(5, 5)
    assert read.flow == NEWEVENT
    await store.release(read, read.flow, read.data)  # unchanged: not renewed
    clock.advance(timedelta(minutes=1))
    expired = await store.claim(5, 5)
    assert expired.empty  # dropped: the next message is treated fresh
    await store.release(expired, None, {})
    assert await ConversationRow.all().count() == 0

    await store.release(await store.claim(6, 6), NEWEVENT, {})
    await store.release(await store.claim(9, 9), NEWEVENT, {})
    clock.advance(timedelta(minutes=10))
    nine = await store.claim(9, 9)
    await store.release(nine, OpenFlow("newevent", 3, "/newevent"), {})
    clock.advance(timedelta(minutes=25))  # 6 is 35 minutes old, 9 was touched 25 ago
    assert await store.forget_expired() == 1
    assert [r.chat_id for r in await ConversationRow.all()] == [9]


async def test_a_row_the_code_can_no_longer_read_is_dropped_not_fatal(
    database: str, clock: ManualClock
) -> None:
    store = ConversationStore(clock)
    await store.release(await store.claim(3, 3), NEWEVENT, {"draft": EventDraft()})
    await ConversationRow.filter(chat_id=3).update(data=b"not a pickle")
    read = await store.claim(3, 3)
    assert read.empty
    await store.release(read, None, {})
    assert await ConversationRow.all().count() == 0


def test_the_ttl_and_lease_must_be_positive(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ConversationStore(clock, timedelta(0))
    with pytest.raises(ValueError, match="must be positive"):
        ConversationStore(clock, lease=timedelta(seconds=-1))


async def test_a_release_lost_with_its_connection_does_not_hold_the_chat(
    database: str, clock: ManualClock
) -> None:
    """The instance runs one update per chat at a time, so its own leftover hold is stale:
    the chat's next update goes ahead at once instead of waiting out the lease (the clock
    does not move here, so waiting would never end)."""
    store = ConversationStore(clock)
    held = await store.claim(9, 9)
    await store.release(held, NEWEVENT, {})
    await store.claim(9, 9)  # ...and its release never reaches the database
    again = await asyncio.wait_for(store.claim(9, 9), 5)
    assert again.flow == NEWEVENT
    # Another instance still waits for that hold.
    other = asyncio.create_task(ConversationStore(clock).claim(9, 9))
    await asyncio.sleep(0.1)
    assert not other.done()
    other.cancel()
