"""Bot processes forked from one that imported the bot already (`-m tests.reliability.prefork`).

Most of a bot's start-up is importing (pydantic-ai, slack-bolt, discord.py, SQLAlchemy,
alembic: 2-3 s of CPU, more on a loaded machine). A crash test that kills and restarts the bot
dozens of times would spend its time and the machine's CPU there, so this server imports once,
then forks a bot per request, the way a pre-loading server (gunicorn --preload) does. Nothing of
the bot (settings, database, port, lease, event loop) exists before the fork: the child runs
exactly what `python -m viraltracker_bot <command>` runs, and a SIGKILL hits only it.

Protocol (one line each): the test writes `{"env": {...}, "log": path}` to fork a bot with that
extra environment and its stderr in `log`; the server answers `started <pid>`, and later
`exited <pid> <code>` (a negative code is the signal that ended it, as in asyncio). End of input
kills the bots still running (the test went away) and ends the server.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import select
import signal
import sys
from typing import Any

PRELOAD = {  # what `viraltracker_bot <command>` imports on its way to serving
    "slack": [
        "viraltracker_bot.cli",
        "adapters.slack.server",
        "viraltracker_bot.digests.background",
        "viraltracker_bot.runtime",
        "viraltracker_bot.storage.migrate",
        "viraltracker_bot.agent.orchestrator",
    ],
    "discord": [
        "viraltracker_bot.cli",
        "adapters.discord",
        "viraltracker_bot.digests.background",
        "viraltracker_bot.runtime",
        "viraltracker_bot.storage.migrate",
        "viraltracker_bot.agent.orchestrator",
    ],
}


def _say(line: str) -> None:
    os.write(1, f"{line}\n".encode())


def serve() -> dict[str, Any] | None:
    """Fork a bot per request; returns its request in the child, None when the server ends."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    pending = b""
    reading = True
    while reading or children:
        readable, _, _ = select.select([0, wake_r] if reading else [wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            children.discard(pid)
            _say(f"exited {pid} {os.waitstatus_to_exitcode(status)}")
        if 0 not in readable:
            continue
        data = os.read(0, 65536)
        if not data:
            reading = False
            for pid in children:
                os.kill(pid, signal.SIGKILL)
            continue
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                return dict(request)
            children.add(pid)
            _say(f"started {pid}")
    return None


def run_bot(command: list[str], request: dict[str, Any]) -> None:
    """In the child: its own stdin, stdout and stderr, its environment, then the bot's CLI."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.close(devnull)
    os.close(log)
    os.environ.update(request["env"])
    sys.argv = ["viraltracker_bot", *command]
    runpy.run_module("viraltracker_bot", run_name="__main__", alter_sys=True)


def main() -> None:
    command = sys.argv[1:]
    for module in PRELOAD[command[0]]:
        importlib.import_module(module)
    request = serve()
    if request is not None:
        run_bot(command, request)


if __name__ == "__main__":
    main()
