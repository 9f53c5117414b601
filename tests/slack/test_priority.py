"""Acknowledgements first: turns wait while events are arriving, and never longer than allowed."""

from __future__ import annotations

import asyncio

from adapters.slack.priority import AckFirst


async def test_turns_wait_while_a_bursts_events_are_received_and_start_once_they_are_out() -> None:
    gate = AckFirst(settle_s=0.01, max_wait_s=60, burst_events=3, burst_window_s=10)
    for _ in range(3):
        gate.entering()
    waiting = [asyncio.create_task(gate.quiet()) for _ in range(200)]
    await asyncio.sleep(0.1)
    assert not any(task.done() for task in waiting)  # the events are still being acknowledged
    gate.leaving()
    gate.leaving()
    await asyncio.sleep(0.1)
    assert not any(task.done() for task in waiting)  # one is still in bolt's hands
    gate.leaving()
    await asyncio.wait_for(asyncio.gather(*waiting), 10)


async def test_a_lone_event_being_received_holds_no_turn_back() -> None:
    gate = AckFirst(settle_s=0.01, max_wait_s=60, burst_events=3, burst_window_s=10)
    gate.entering()  # its ack waits, say, for the database; nothing else is arriving
    await asyncio.wait_for(gate.quiet(), 10)  # would wait for it to leave (60 s) otherwise


async def test_a_steady_stream_of_events_does_not_starve_the_turns() -> None:
    gate = AckFirst(settle_s=0.01, max_wait_s=0.05, burst_events=2, burst_window_s=10)
    gate.entering()
    gate.entering()  # a burst whose events never leave
    await asyncio.wait_for(gate.quiet(), 10)
    second = asyncio.create_task(gate.quiet())  # a later turn gets its own full wait
    await asyncio.wait_for(second, 10)


async def test_a_turn_starts_at_once_when_no_event_came_lately() -> None:
    gate = AckFirst(settle_s=0.01, max_wait_s=60)
    await asyncio.wait_for(gate.quiet(), 10)
    gate.entering()
    gate.leaving()
    await asyncio.wait_for(gate.quiet(), 10)  # still for settle_s from now on, then it starts


async def test_a_turn_cancelled_while_waiting_leaves_the_others_waiting() -> None:
    gate = AckFirst(settle_s=0.01, max_wait_s=60, burst_events=2, burst_window_s=10)
    gate.entering()
    gate.entering()  # a burst, still in bolt's hands
    cancelled, other = asyncio.create_task(gate.quiet()), asyncio.create_task(gate.quiet())
    await asyncio.sleep(0.02)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert not other.done()
    gate.leaving()
    gate.leaving()
    await asyncio.wait_for(other, 10)


async def test_after_a_burst_turns_wait_longer_for_the_door_to_be_still() -> None:
    gate = AckFirst(
        settle_s=0.01, max_wait_s=60, burst_settle_s=0.4, burst_events=3, burst_window_s=10
    )
    for _ in range(3):  # three events in quick succession: a burst, with pauses between waves
        gate.entering()
        gate.leaving()
    turn = asyncio.create_task(gate.quiet())
    await asyncio.sleep(0.1)  # far past settle_s: a lone event's turn would have started
    assert not turn.done()
    await asyncio.wait_for(turn, 10)


async def test_a_lone_event_after_a_burst_waits_only_the_short_settle() -> None:
    gate = AckFirst(
        settle_s=0.01, max_wait_s=60, burst_settle_s=30, burst_events=3, burst_window_s=0.05
    )
    for _ in range(3):
        gate.entering()
        gate.leaving()
    await asyncio.sleep(0.1)  # the burst is over
    gate.entering()  # one more event, alone in its window
    gate.leaving()
    await asyncio.wait_for(gate.quiet(), 10)  # would take 30 s if it still counted as a burst
