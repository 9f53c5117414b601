"""A protocol fake of the Apify v2 REST API: actor runs, run polling, dataset items.

Point `ApifyClientAsync(token, api_url=fake.url)` (or `Settings(apify_api_base_url=fake.url)`) at
it. Runs serve the sandbox's items for the actor, in the real dataset shapes, and the JSON of a
run carries every field the 3.x `Run` model requires. Tests steer it: `latency_s` keeps new runs
RUNNING that long (`waitForFinish` long-polls are honoured), `fail_next(429, times=2)` answers the
next requests with an error, `end_runs_with("FAILED")` ends the next run badly, and
`malformed_per_run` mixes broken rows into each dataset. Every start is recorded in
`runs_started` (actor and input), every request in `requests`.

    async with ApifyFake() as fake:
        settings = Settings(apify_token=fake.token, apify_api_base_url=fake.url)
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from viraltracker_bot.platforms.sandbox import sandbox_items

ItemSource = Callable[[str, dict[str, Any]], list[Any]]
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED")
MAX_WAIT_S = 60.0
"""The real API holds a `waitForFinish` request at most this long."""

MALFORMED_ROWS: tuple[Any, ...] = (
    "not an object",
    12345,
    None,
    ["a", "list"],
    {"id": None, "text": "row without an id"},
    {"text": "orphan row", "playCount": "lots"},
    {},
)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class FakeRun:
    """One actor run: RUNNING until `finish_at`, then its final status."""

    id: str
    actor_id: str
    act_id: str
    run_input: Any
    params: dict[str, str]
    dataset_id: str
    items: list[Any]
    started_at: datetime
    final_status: str
    timeout_s: int
    status: str = "RUNNING"
    finished_at: datetime | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.TimerHandle | None = None

    def finish(self, status: str | None = None) -> None:
        if self.status in TERMINAL:
            return
        self.status = status or self.final_status
        self.finished_at = datetime.now(UTC)
        if self.timer is not None:
            self.timer.cancel()
        self.done.set()


class ApifyFake:
    """An aiohttp server on 127.0.0.1 speaking the Apify endpoints apify-client 3.x calls."""

    def __init__(self, *, token: str = "apify-test-token", latency_s: float = 0.0) -> None:
        self.token = token
        self.latency_s = latency_s
        self.malformed_per_run = 0
        self.enforce_run_timeouts = True
        """When False, runs ignore their `timeout` (a stuck actor the client must give up on)."""
        self.runs: dict[str, FakeRun] = {}
        self.runs_started: list[FakeRun] = []
        self.requests: list[RecordedRequest] = []
        self.item_sources: dict[str, ItemSource] = {}
        self._faults: list[int] = []
        self._persistent_fault: int | None = None
        self._run_endings: list[str] = []
        self._datasets: dict[str, FakeRun] = {}
        self._ids = random.Random(7)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- steering ----------------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests (any endpoint) with HTTP `status` (429, 500, ...)."""
        self._faults.extend([status] * times)

    def fail_always(self, status: int | None) -> None:
        """Answer every request with `status` until called with None."""
        self._persistent_fault = status

    def end_runs_with(self, status: str, times: int = 1) -> None:
        """The next `times` runs end FAILED / TIMED-OUT / ABORTED instead of SUCCEEDED."""
        self._run_endings.extend([status] * times)

    def set_items(self, actor_id: str, items: list[Any] | ItemSource) -> None:
        """Serve these rows (or rows from this function of (actor, input)) for an actor."""
        key = actor_id.replace("~", "/")
        self.item_sources[key] = items if callable(items) else (lambda _a, _i: list(items))

    @property
    def run_count(self) -> int:
        return len(self.runs_started)

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> ApifyFake:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        app.router.add_post("/v2/acts/{actor}/runs", self._start_run)
        app.router.add_post("/v2/actors/{actor}/runs", self._start_run)
        app.router.add_get("/v2/actor-runs/{run}", self._get_run)
        app.router.add_post("/v2/actor-runs/{run}/abort", self._abort_run)
        app.router.add_get("/v2/datasets/{dataset}/items", self._dataset_items)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for run in self.runs.values():
            run.finish("ABORTED")
        if self._runner is not None:
            await self._runner.cleanup()

    # --- middleware: auth, faults, recording ---------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        status = self._persistent_fault or (self._faults.pop(0) if self._faults else None)
        if status is not None:
            response = _error(status, _ERROR_TYPES.get(status, "server-error"), f"fake {status}")
        elif not self._authorised(request):
            response = _error(401, "token-not-valid", "Authentication token is not valid.")
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = _error(exc.status, "record-not-found", exc.reason)
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.query), response.status)
        )
        return response

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header == f"Bearer {self.token}" or request.query.get("token") == self.token

    # --- endpoints ---------------------------------------------------------------------------

    async def _start_run(self, request: web.Request) -> web.Response:
        actor_id = request.match_info["actor"].replace("~", "/")
        run_input = await _json_body(request)
        params = dict(request.query)
        source = self.item_sources.get(actor_id, sandbox_items)
        items = list(source(actor_id, run_input if isinstance(run_input, dict) else {}))
        if params.get("maxItems"):
            items = items[: int(params["maxItems"])]
        items = self._with_malformed(items)
        run = self._new_run(actor_id, run_input, params, items)
        await self._wait(run, params.get("waitForFinish"))
        return web.json_response({"data": self._run_json(run)}, status=201)

    async def _get_run(self, request: web.Request) -> web.Response:
        run = self.runs.get(request.match_info["run"])
        if run is None:
            return _error(404, "record-not-found", "Actor run was not found")
        await self._wait(run, request.query.get("waitForFinish"))
        return web.json_response({"data": self._run_json(run)})

    async def _abort_run(self, request: web.Request) -> web.Response:
        run = self.runs.get(request.match_info["run"])
        if run is None:
            return _error(404, "record-not-found", "Actor run was not found")
        run.finish("ABORTED")
        return web.json_response({"data": self._run_json(run)})

    async def _dataset_items(self, request: web.Request) -> web.Response:
        run = self._datasets.get(request.match_info["dataset"])
        if run is None:
            return _error(404, "record-not-found", "Dataset was not found")
        items = run.items if run.status == "SUCCEEDED" else run.items[: len(run.items) // 3]
        desc = request.query.get("desc", "").lower() in ("1", "true")
        ordered = list(reversed(items)) if desc else items
        offset = int(request.query.get("offset") or 0)
        limit = int(request.query.get("limit") or 0) or None
        page = ordered[offset : offset + limit if limit else None]
        headers = {
            "x-apify-pagination-total": str(len(items)),
            "x-apify-pagination-offset": str(offset),
            "x-apify-pagination-limit": str(limit or 999_999_999_999),
            "x-apify-pagination-count": str(len(page)),
            "x-apify-pagination-desc": "true" if desc else "false",
        }
        return web.json_response(page, headers=headers)

    # --- runs --------------------------------------------------------------------------------

    def _new_run(
        self, actor_id: str, run_input: Any, params: dict[str, str], items: list[Any]
    ) -> FakeRun:
        timeout_s = int(params.get("timeout") or 3600)
        final = self._run_endings.pop(0) if self._run_endings else "SUCCEEDED"
        latency = self.latency_s
        if self.enforce_run_timeouts and timeout_s and latency > timeout_s:
            # The platform kills a run that exceeds its timeout.
            latency, final = float(timeout_s), "TIMED-OUT"
        run = FakeRun(
            id=self._new_id(),
            actor_id=actor_id,
            act_id=self._new_id(),
            run_input=run_input,
            params=params,
            dataset_id=self._new_id(),
            items=items,
            started_at=datetime.now(UTC),
            final_status=final,
            timeout_s=timeout_s,
        )
        self.runs[run.id] = run
        self._datasets[run.dataset_id] = run
        self.runs_started.append(run)
        if latency <= 0:
            run.finish()
        else:
            run.timer = asyncio.get_running_loop().call_later(latency, run.finish)
        return run

    async def _wait(self, run: FakeRun, wait_for_finish: str | None) -> None:
        """Hold the request until the run ends or the requested wait (at most 60 s) is over."""
        try:
            wait = min(float(wait_for_finish or 0), MAX_WAIT_S)
        except ValueError:
            wait = 0.0
        if wait > 0 and run.status not in TERMINAL:
            try:
                await asyncio.wait_for(run.done.wait(), timeout=wait)
            except TimeoutError:
                pass

    def _with_malformed(self, items: list[Any]) -> list[Any]:
        if not self.malformed_per_run:
            return items
        mixed = list(items)
        for n in range(self.malformed_per_run):
            position = self._ids.randrange(len(mixed) + 1)
            mixed.insert(position, MALFORMED_ROWS[n % len(MALFORMED_ROWS)])
        return mixed

    def _new_id(self) -> str:
        return "".join(self._ids.choice(string.ascii_letters + string.digits) for _ in range(17))

    def _run_json(self, run: FakeRun) -> dict[str, Any]:
        end = run.finished_at or datetime.now(UTC)
        millis = int((end - run.started_at).total_seconds() * 1000)
        exit_code = {"SUCCEEDED": 0, "FAILED": 1}.get(run.status)
        return {
            "id": run.id,
            "actId": run.act_id,
            "userId": "fakeUser000000001",
            "actorTaskId": None,
            "startedAt": _iso(run.started_at),
            "finishedAt": _iso(run.finished_at) if run.finished_at else None,
            "status": run.status,
            "statusMessage": _STATUS_MESSAGES.get(run.status, "Actor is running"),
            "isStatusMessageTerminal": run.status in TERMINAL,
            "meta": {"origin": "API", "userAgent": "ApifyClient/fake"},
            "stats": {
                "inputBodyLen": len(json.dumps(run.run_input)),
                "restartCount": 0,
                "resurrectCount": 0,
                "durationMillis": millis,
                "runTimeSecs": millis / 1000,
                "computeUnits": round(millis / 3_600_000, 6),
            },
            "options": {
                "build": run.params.get("build", "latest"),
                "timeoutSecs": run.timeout_s,
                "memoryMbytes": int(run.params.get("memory") or 1024),
                "diskMbytes": 2048,
                "maxItems": int(run.params["maxItems"]) if run.params.get("maxItems") else None,
            },
            "buildId": "fakeBuild00000001",
            "buildNumber": "0.1.1",
            "exitCode": exit_code,
            "defaultKeyValueStoreId": f"kvs{run.id[:14]}",
            "defaultDatasetId": run.dataset_id,
            "defaultRequestQueueId": f"rq{run.id[:15]}",
            "usageTotalUsd": round(millis / 3_600_000 * 0.4, 6),
        }


_ERROR_TYPES = {
    400: "invalid-input",
    401: "token-not-valid",
    403: "insufficient-permissions",
    404: "record-not-found",
    429: "rate-limit-exceeded",
}
_STATUS_MESSAGES = {
    "SUCCEEDED": "Finished!",
    "FAILED": "The Actor process was terminated with exit code 1",
    "TIMED-OUT": "The run has timed out",
    "ABORTED": "The run was aborted",
}


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message}}, status=status)


def _iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


async def _json_body(request: web.Request) -> Any:
    """The run input; the client gzips bodies over 1 KiB."""
    raw = await request.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(reason="Input is not valid JSON") from exc
