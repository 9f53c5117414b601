"""Acknowledgements before answers: new turns wait while events are still arriving.

Slack retries an event it does not see acknowledged within 3 seconds, and a retry is one more
delivery to deduplicate. In one process the acknowledgements and the answers share an event
loop, so in a burst of mentions (an announcement, a retry storm) the later events would be
acknowledged only after the earlier ones' answers had done their first work. A turn therefore
starts once no event has come or gone for `settle_s`, or after `max_wait_s` at the latest, so
a steady stream of events never starves the answers. Every answer waits `settle_s` after its
own event, so it is short: a millisecond, more than the gap between two events of a wave that
one process is taking in (a fraction of one). 5 ms were a ninth of a real answer's end-to-end
overhead and more than a third of the waiting core's (bench/slack_ack.py: its p50 went from
13.5 to 8.2 ms, the acks unchanged).

In a burst the door is still only between waves: Slack (or a retry storm) sends the next events
as the first are acknowledged, and a pause of a few milliseconds between waves let the first
turns in while later events were still arriving; those events then waited for the turns' claims
and first steps (up to 200 ms in bench/slack_ack.py). So after a burst (`burst_events` arrivals
within `burst_window_s`) the door must be still for `burst_settle_s`, with no event left in
bolt's hands. A lone event in bolt's hands holds no turn back: at a steady dozen events a
second, whose acks wait now and then for SQLite's writer, turns waited for a moment with none
in hand, up to a third of a second (bench/slack_ack.py, end to end), to spare acks that were
never at risk.
"""

from __future__ import annotations

import asyncio
import collections
import time


class AckFirst:
    """Counts the events being received; `quiet()` returns when the door has been still.

    The waiting turns share one `asyncio.Event`, set by one timer once the door has been still
    for `settle_s`, or by one deadline `max_wait_s` after the first of them began to wait: a
    burst of a few hundred events has as many turns waiting, and each of them polling every few
    milliseconds was a fifth of the process's CPU while the burst lasted; a timeout and a
    shielded future of its own for each was still a sixth of what acknowledging an event costs.
    """

    def __init__(
        self,
        settle_s: float = 0.001,
        max_wait_s: float = 0.5,
        *,
        burst_settle_s: float = 0.05,
        burst_events: int = 8,
        burst_window_s: float = 0.1,
    ) -> None:
        self.settle_s = settle_s
        self.max_wait_s = max_wait_s
        self.burst_settle_s = burst_settle_s
        self.burst_window_s = burst_window_s
        self.receiving = 0
        self.last_seen = 0.0
        self._arrivals: collections.deque[float] = collections.deque(maxlen=max(1, burst_events))
        self._in_burst = False
        self._still: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def entering(self) -> None:
        self.receiving += 1
        now = self.last_seen = time.monotonic()
        arrivals = self._arrivals
        arrivals.append(now)
        self._in_burst = (
            len(arrivals) == arrivals.maxlen and now - arrivals[0] <= self.burst_window_s
        )

    @property
    def settle(self) -> float:
        """How long the door must be still: longer right after a burst."""
        return self.burst_settle_s if self._in_burst else self.settle_s

    def leaving(self) -> None:
        self.receiving = max(0, self.receiving - 1)
        self.last_seen = time.monotonic()
        if not self._holding and self._still is not None:
            self._check_later(self.settle)

    async def quiet(self) -> None:
        if self._is_still():
            return
        if self._still is None:
            self._still = asyncio.Event()
            loop = asyncio.get_running_loop()
            # A steady stream of events never starves the answers.
            self._deadline = loop.call_later(self.max_wait_s, self._release)
            if not self._holding:
                self._check_later(self.settle - (time.monotonic() - self.last_seen))
        await self._still.wait()

    @property
    def _holding(self) -> bool:
        """Events of a burst are still in bolt's hands: no turn starts before they are out."""
        return self.receiving > 0 and self._in_burst

    def _is_still(self) -> bool:
        return not self._holding and time.monotonic() - self.last_seen >= self.settle

    def _check_later(self, delay_s: float) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, delay_s), self._check)

    def _check(self) -> None:
        self._timer = None
        if self._still is None or self._holding:
            return  # the last event to leave checks again
        still_for = time.monotonic() - self.last_seen
        if still_for < self.settle:
            self._check_later(self.settle - still_for)
            return
        self._release()

    def _release(self) -> None:
        """Let every waiting turn start (the door was still, or they waited long enough)."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        still, self._still = self._still, None
        if still is not None:
            still.set()
