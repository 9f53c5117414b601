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
    """Counts the events being received; `quiet()` returns when the door has been still."""

    def __init__(self, settle_s: float = 0.005, max_wait_s: float = 0.25) -> None:
        self.settle_s = settle_s
        self.max_wait_s = max_wait_s
        self.receiving = 0
        self.last_seen = 0.0

    def entering(self) -> None:
        self.receiving += 1
        self.last_seen = time.monotonic()

    def leaving(self) -> None:
        self.receiving = max(0, self.receiving - 1)
        self.last_seen = time.monotonic()

    async def quiet(self) -> None:
        deadline = time.monotonic() + self.max_wait_s
        while True:
            now = time.monotonic()
            still_for = now - self.last_seen
            if (self.receiving == 0 and still_for >= self.settle_s) or now >= deadline:
                return
            pause = self.settle_s - still_for if self.receiving == 0 else self.settle_s
            await asyncio.sleep(max(0.001, min(pause, deadline - now)))
