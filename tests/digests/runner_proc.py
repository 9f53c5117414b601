"""One digest runner process for the multi-process test: due ticks in lockstep with its peers.

Wired exactly like `viraltracker-bot digests run-due --now T` (settings from the environment,
the CLI's services and deliverers), but one process walks through every tick so the test does
not pay an interpreter start per tick. Before each tick it waits at a file barrier until all
peers are there, so the processes really race for the same due schedules.

    python runner_proc.py --name p1 --peers 3 --barrier DIR 2026-03-27T07:00:01Z ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime
from pathlib import Path

from viraltracker_bot.config import Settings
from viraltracker_bot.digests.cli import chat_deliverers, digest_services, parse_now
from viraltracker_bot.digests.runner import DigestRunner


def arrived(barrier: Path, tick: int, name: str | None = None) -> int:
    """Mark this process as arrived at a tick (when named) and count who has."""
    if name is not None:
        (barrier / f"{tick:03d}-{name}").touch()
    return len(list(barrier.glob(f"{tick:03d}-*")))


async def wait_for_peers(barrier: Path, tick: int, name: str, peers: int) -> None:
    count = await asyncio.to_thread(arrived, barrier, tick, name)
    deadline = time.monotonic() + 120
    while count < peers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"peers never reached tick {tick}")
        await asyncio.sleep(0.005)
        count = await asyncio.to_thread(arrived, barrier, tick)


async def main(args: argparse.Namespace) -> None:
    began = time.monotonic()
    settings = Settings()
    ticks = [parse_now(t) for t in args.ticks]
    current: dict[str, datetime | None] = {"now": None}
    async with digest_services(settings) as (db, services), chat_deliverers(settings) as targets:
        runner = DigestRunner(settings, db, services, targets, clock=lambda: current["now"])
        print(json.dumps({"ready_after": round(time.monotonic() - began, 3)}), flush=True)
        for index, tick in enumerate(ticks):
            await wait_for_peers(Path(args.barrier), index, args.name, args.peers)
            current["now"] = tick
            started = time.monotonic()
            for outcome in await runner.run_due(tick):
                record = {
                    "tick": index,
                    "schedule": outcome.schedule_id,
                    "status": outcome.status,
                    "seconds": round(time.monotonic() - started, 3),
                }
                print(json.dumps(record), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--peers", type=int, required=True)
    parser.add_argument("--barrier", required=True)
    parser.add_argument("ticks", nargs="+")
    asyncio.run(main(parser.parse_args()))
