"""Acknowledgements before answers: new turns wait while events are still arriving.

Slack retries an event it does not see acknowledged within 3 seconds, and a retry is one more
delivery to deduplicate. In one process the acknowledgements and the answers share an event
loop, so in a burst of mentions (an announcement, a retry storm) the later events would be
acknowledged only after the earlier ones' answers had done their first work. A turn therefore
starts once no event has been in bolt's hands for `settle_s`, or after `max_wait_s` at the
latest, so a steady stream of events never starves the answers. Next to a model's seconds,
the wait is invisible.
"""

from __future__ import annotations

import asyncio
import time


class AckFirst:
    """Counts the events being received; `quiet()` returns when the door has been still.

    The waiting turns share one future, resolved by one timer once the door has been still
    for `settle_s`: a burst of a few hundred events has as many turns waiting, and each of them
    polling every few milliseconds was a fifth of the process's CPU while the burst lasted.
    """

    def __init__(self, settle_s: float = 0.005, max_wait_s: float = 0.25) -> None:
        self.settle_s = settle_s
        self.max_wait_s = max_wait_s
        self.receiving = 0
        self.last_seen = 0.0
        self._still: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def entering(self) -> None:
        self.receiving += 1
        self.last_seen = time.monotonic()

    def leaving(self) -> None:
        self.receiving = max(0, self.receiving - 1)
        self.last_seen = time.monotonic()
        if self.receiving == 0 and self._still is not None:
            self._check_later(self.settle_s)

    async def quiet(self) -> None:
        if self._is_still():
            return
        if self._still is None:
            self._still = asyncio.get_running_loop().create_future()
            if self.receiving == 0:
                self._check_later(self.settle_s - (time.monotonic() - self.last_seen))
        try:
            async with asyncio.timeout(self.max_wait_s):
                await asyncio.shield(self._still)
        except TimeoutError:
            return  # a steady stream of events never starves the answers

    def _is_still(self) -> bool:
        return self.receiving == 0 and time.monotonic() - self.last_seen >= self.settle_s

    def _check_later(self, delay_s: float) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, delay_s), self._check)

    def _check(self) -> None:
        self._timer = None
        if self._still is None or self.receiving:
            return  # the last event to leave checks again
        still_for = time.monotonic() - self.last_seen
        if still_for < self.settle_s:
            self._check_later(self.settle_s - still_for)
            return
        still, self._still = self._still, None
        if not still.done():
            still.set_result(None)
