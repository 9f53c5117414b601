"""Schedules in the database: create, list, pause, remove, and claim due ones under a lease.

Every runner process may call `claim_due` at the same moment: a schedule's tick is owned by the
one runner whose lease is on the row, so a digest is posted once however many processes run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from viraltracker_bot.digests.schedule import (
    DigestQuery,
    as_utc,
    check_even_steps,
    check_not_too_often,
    next_run_after,
    normalise_cron,
    parse_channel,
    zone,
)
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.tables import ScheduleRow

MAX_SEEN = 2000  # post keys remembered per digest: weeks of digests, a few KB of JSON
MAX_ERROR_CHARS = 500


class FailureState(BaseModel):
    """What mark_failed decided: when to retry, and whether this is the one failure to report."""

    failures: int
    retry_at: datetime
    report: bool


def _fresh(row: ScheduleRow) -> ScheduleRow:
    """SQLite returns naive timestamps: make every time on the row aware UTC."""
    for name in ("next_run_at", "last_run_at", "lease_until", "created_at"):
        value = getattr(row, name)
        if value is not None:
            setattr(row, name, as_utc(value))
    return row


async def create_schedule(
    db: Database,
    *,
    cron: str,
    timezone: str,
    channel: str,
    query: DigestQuery,
    now: datetime,
    created_by: str | None = None,
    workspace: str | None = None,
    description: str = "",
    min_interval_s: float = 0.0,
) -> ScheduleRow:
    """Validate and store a schedule; its first run is the first tick after `now`.

    `min_interval_s`: runs may come no closer together (the digest_min_interval_s setting).
    """
    cron = normalise_cron(cron)
    check_even_steps(cron)
    zone(timezone)
    check_not_too_often(cron, timezone, min_interval_s, now)
    ref = parse_channel(channel)
    row = ScheduleRow(
        cron=cron,
        timezone=timezone,
        channel=ref.as_string(),
        workspace=workspace,
        query=query.model_dump(mode="json"),
        description=description or query.describe(),
        created_by=created_by,
        enabled=True,
        next_run_at=next_run_after(cron, timezone, now),
        failures=0,
        seen_post_ids=[],
        created_at=as_utc(now),
    )
    async with db.transaction() as session:
        session.add(row)
    return _fresh(row)


def _scope(platform: str | None, workspace: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if platform:
        conditions.append(ScheduleRow.channel.like(f"{platform}:%"))
    if workspace:
        conditions.append(ScheduleRow.workspace == workspace)
    return conditions


async def list_schedules(
    db: Database, *, platform: str | None = None, workspace: str | None = None
) -> list[ScheduleRow]:
    """Schedules by id; chat passes its platform and workspace so it sees only its own."""
    async with db.sessions() as session:
        stmt = select(ScheduleRow).where(*_scope(platform, workspace)).order_by(ScheduleRow.id)
        rows = (await session.scalars(stmt)).all()
    return [_fresh(r) for r in rows]


async def get_schedule(
    db: Database, schedule_id: int, *, platform: str | None = None, workspace: str | None = None
) -> ScheduleRow | None:
    async with db.sessions() as session:
        stmt = select(ScheduleRow).where(
            ScheduleRow.id == schedule_id, *_scope(platform, workspace)
        )
        row = (await session.scalars(stmt)).first()
    return _fresh(row) if row else None


async def remove_schedule(
    db: Database, schedule_id: int, *, platform: str | None = None, workspace: str | None = None
) -> bool:
    """Delete a schedule; False when there is none with that id (in that scope)."""
    async with db.transaction() as session:
        stmt = delete(ScheduleRow).where(
            ScheduleRow.id == schedule_id, *_scope(platform, workspace)
        )
        return (await session.execute(stmt)).rowcount > 0  # type: ignore[attr-defined]


async def set_enabled(
    db: Database,
    schedule_id: int,
    enabled: bool,
    *,
    now: datetime,
    platform: str | None = None,
    workspace: str | None = None,
) -> ScheduleRow | None:
    """Pause or resume; resuming starts from the next tick, so a long pause posts no backlog."""
    async with db.transaction() as session:
        stmt = select(ScheduleRow).where(
            ScheduleRow.id == schedule_id, *_scope(platform, workspace)
        )
        row = (await session.scalars(stmt)).first()
        if row is None:
            return None
        if enabled and not row.enabled:
            row.next_run_at = next_run_after(row.cron, row.timezone, now)
            row.failures = 0
        row.enabled = enabled
    return _fresh(row)


def _due(now: datetime, platforms: Iterable[str]) -> list[ColumnElement[bool]]:
    return [
        ScheduleRow.enabled.is_(True),
        ScheduleRow.next_run_at <= now,
        or_(ScheduleRow.lease_until.is_(None), ScheduleRow.lease_until < now),
        or_(*[ScheduleRow.channel.like(f"{p}:%") for p in sorted(platforms)]),
    ]


async def claim_due(
    db: Database,
    now: datetime,
    owner: str,
    lease_s: float,
    platforms: set[str],
    *,
    limit: int = 20,
) -> list[ScheduleRow]:
    """Take a lease on due schedules this runner can deliver, and return them.

    PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` hands each due row to one runner while the
    others skip it without waiting; the UPDATE then writes the lease in the same transaction.
    SQLite (one process by design) ignores the lock clause; the UPDATE repeats the due
    conditions, so a row leased meanwhile is not taken twice even there.
    """
    if not platforms:
        return []
    now = as_utc(now)
    until = now + timedelta(seconds=lease_s)
    async with db.transaction() as session:
        candidates = (
            select(ScheduleRow.id)
            .where(*_due(now, platforms))
            .order_by(ScheduleRow.next_run_at, ScheduleRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await session.scalars(candidates)).all())
        if not ids:
            return []
        claimed = (
            update(ScheduleRow)
            .where(ScheduleRow.id.in_(ids), *_due(now, platforms))
            .values(lease_owner=owner, lease_until=until)
            .returning(ScheduleRow.id)
            .execution_options(synchronize_session=False)
        )
        claimed_ids = set((await session.scalars(claimed)).all())
        rows = (
            await session.scalars(
                select(ScheduleRow)
                .where(ScheduleRow.id.in_(claimed_ids))
                .order_by(ScheduleRow.next_run_at, ScheduleRow.id)
            )
        ).all()
    return [_fresh(r) for r in rows]


def _mine(schedule_id: int, owner: str) -> ColumnElement[bool]:
    return and_(ScheduleRow.id == schedule_id, ScheduleRow.lease_owner == owner)


async def renew_lease(
    db: Database, schedule_id: int, owner: str, now: datetime, lease_s: float
) -> bool:
    """Extend our lease; False means another runner took the schedule (or it was removed)."""
    async with db.transaction() as session:
        stmt = (
            update(ScheduleRow)
            .where(_mine(schedule_id, owner))
            .values(lease_until=as_utc(now) + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        return (await session.execute(stmt)).rowcount > 0  # type: ignore[attr-defined]


async def mark_done(
    db: Database,
    row: ScheduleRow,
    owner: str,
    now: datetime,
    posted_keys: list[str],
) -> datetime | None:
    """Record a posted digest and move to the first tick after now; None if the lease was lost.

    Advancing from `now` rather than from the missed tick is what turns downtime into one
    catch-up digest instead of one per missed tick.
    """
    now = as_utc(now)
    next_run = next_run_after(row.cron, row.timezone, now)
    fresh = set(posted_keys)
    seen = [k for k in row.seen_post_ids if k not in fresh] + posted_keys
    async with db.transaction() as session:
        stmt = (
            update(ScheduleRow)
            .where(_mine(row.id, owner))
            .values(
                next_run_at=next_run,
                last_run_at=now,
                lease_owner=None,
                lease_until=None,
                failures=0,
                last_error=None,
                seen_post_ids=seen[-MAX_SEEN:],
            )
            .execution_options(synchronize_session=False)
        )
        done = (await session.execute(stmt)).rowcount > 0  # type: ignore[attr-defined]
    return next_run if done else None


def retry_delay(failures: int, base_s: float, max_s: float) -> float:
    """60 s, 120 s, 240 s ... capped: a broken digest backs off instead of hammering Apify."""
    return min(max_s, base_s * 2 ** max(0, failures - 1))


async def mark_failed(
    db: Database,
    row: ScheduleRow,
    owner: str,
    now: datetime,
    error: str,
    *,
    retry_base_s: float,
    retry_max_s: float,
) -> FailureState | None:
    """Count a failure and schedule the retry; only the first of a streak is to be reported."""
    failures = row.failures + 1
    retry_at = as_utc(now) + timedelta(seconds=retry_delay(failures, retry_base_s, retry_max_s))
    async with db.transaction() as session:
        stmt = (
            update(ScheduleRow)
            .where(_mine(row.id, owner))
            .values(
                failures=failures,
                last_error=error[:MAX_ERROR_CHARS],
                next_run_at=retry_at,
                lease_owner=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        if (await session.execute(stmt)).rowcount == 0:  # type: ignore[attr-defined]
            return None
    return FailureState(failures=failures, retry_at=retry_at, report=failures == 1)


async def due_schedules(db: Database, now: datetime, platforms: set[str]) -> list[ScheduleRow]:
    """What is due now, without claiming anything (for --dry-run)."""
    async with db.sessions() as session:
        stmt = (
            select(ScheduleRow)
            .where(*_due(as_utc(now), platforms))
            .order_by(ScheduleRow.next_run_at, ScheduleRow.id)
        )
        rows = (await session.scalars(stmt)).all()
    return [_fresh(r) for r in rows]
