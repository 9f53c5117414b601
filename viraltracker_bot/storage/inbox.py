"""The durable inbox: chat messages stored before they are acknowledged, then worked under leases.

One `processed_events` row per message moves `pending -> working -> answered -> done`. The
process that stored a message reserves it (its lease) and normally answers it; when that process
dies, the lease runs out and any process takes the message over from the stage it reached: a
`working` message is answered again (nothing of it was saved), an `answered` one is delivered
from the stored answer (after checking what the chat already shows of it).

Messages of one conversation are worked one at a time, in the order they were written: a message
is claimable only when no earlier message of its conversation is unfinished and no other message
of it is being worked on. On PostgreSQL the claim takes a transaction-scoped advisory lock on the
conversation, so two replicas never both pass that check; SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, case, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.dialects import as_utc, dialect_name, upsert_insert
from viraltracker_bot.storage.tables import ProcessedEventRow

UNDONE = ("pending", "working", "answered")
"""The stages of a message that still needs work (`claimed` rows are plain exactly-once marks)."""

_table = ProcessedEventRow.__table__


class LeaseLost(Exception):
    """Another process took this message over: this one must not save or send its answer."""


class InboxItem(BaseModel):
    """A stored message as a worker sees it after claiming it."""

    event_id: str
    source: str
    conversation_key: str | None
    status: str
    payload: dict[str, Any]
    lease_owner: str | None
    created_at: datetime

    @property
    def attempts(self) -> int:
        """How many times a process has taken this message on (1 on the first claim)."""
        return int(self.payload.get("attempts", 0))


def utcnow() -> datetime:
    return datetime.now(UTC)


async def record(
    db: Database,
    event_id: str,
    source: str,
    conversation_key: str | None,
    payload: dict[str, Any],
    *,
    owner: str,
    lease_s: float,
    at: datetime | None = None,
) -> bool:
    """Store a message, reserved by `owner`; False when it was stored before (a retry, a copy).

    `at` is when the person wrote it (the platform's timestamp): it orders a conversation's
    messages across replicas, whatever order they arrived in.
    """
    now = utcnow()
    async with db.transaction() as session:
        stmt = (
            upsert_insert(session, _table)
            .values(
                event_id=event_id,
                source=source,
                conversation_key=conversation_key,
                status="pending",
                payload=payload,
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_s),
                created_at=at or now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(_table.c.event_id)
        )
        return (await session.execute(stmt)).first() is not None


def _takeable(owner: str, now: datetime, replica_prefix: str | None) -> Any:
    """Rows this owner may take: its own, unowned, lapsed, or its dead predecessor's."""
    c = _table.c
    clauses = [c.lease_owner == owner, c.lease_owner.is_(None), c.lease_until < now]
    if replica_prefix:
        clauses.append(
            and_(c.lease_owner.startswith(replica_prefix, autoescape=True), c.lease_owner != owner)
        )
    return or_(*clauses)


def _blocked(now: datetime) -> Any:
    """Another message of the same conversation must go first, or is being worked on."""
    e, o = _table.c, _table.alias("o").c
    return exists().where(
        o.conversation_key == e.conversation_key,
        o.event_id != e.event_id,
        o.status.in_(UNDONE),
        or_(
            o.created_at < e.created_at,
            and_(o.created_at == e.created_at, o.event_id < e.event_id),
            and_(o.status != "pending", o.lease_until >= now),
        ),
    )


async def claim(
    db: Database,
    event_id: str,
    owner: str,
    lease_s: float,
    *,
    replica_prefix: str | None = None,
) -> InboxItem | None:
    """Take the lease on a message if it is its conversation's turn; None when it is not.

    None also when it is finished, or another live process holds it. Each claim by a new
    owner (or of a fresh message) counts an attempt, so a message that keeps killing its
    workers can be given up on.
    """
    now = utcnow()
    async with db.transaction() as session:
        before = (
            await session.execute(
                select(_table.c.conversation_key, _table.c.status, _table.c.lease_owner).where(
                    _table.c.event_id == event_id
                )
            )
        ).first()
        if before is None or before.status not in UNDONE:
            return None
        if before.conversation_key and dialect_name(session) == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": before.conversation_key},
            )
        c = _table.c
        stmt = (
            update(_table)
            .where(
                c.event_id == event_id,
                c.status.in_(UNDONE),
                _takeable(owner, now, replica_prefix),
                ~_blocked(now),
            )
            .values(
                status=case((c.status == "pending", "working"), else_=c.status),
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_s),
                updated_at=now,
            )
            .returning(*_table.c)
        )
        row = (await session.execute(stmt)).mappings().first()
        if row is None:
            return None
        payload = dict(row["payload"] or {})
        if before.status == "pending" or before.lease_owner != owner:
            payload["attempts"] = int(payload.get("attempts", 0)) + 1
            await session.execute(
                update(_table).where(c.event_id == event_id).values(payload=payload)
            )
        return InboxItem(
            event_id=row["event_id"],
            source=row["source"],
            conversation_key=row["conversation_key"],
            status=row["status"],
            payload=payload,
            lease_owner=owner,
            created_at=as_utc(row["created_at"]) or now,
        )


async def renew(db: Database, owner: str, event_ids: list[str], lease_s: float) -> set[str]:
    """Extend this owner's leases; returns the ids it still holds (a lost one was taken over)."""
    if not event_ids:
        return set()
    now = utcnow()
    c = _table.c
    async with db.transaction() as session:
        result = await session.execute(
            update(_table)
            .where(c.event_id.in_(event_ids), c.lease_owner == owner, c.status.in_(UNDONE))
            .values(lease_until=now + timedelta(seconds=lease_s))
            .returning(c.event_id)
        )
        return {r[0] for r in result}


async def advance(
    session: AsyncSession,
    event_id: str,
    owner: str,
    *,
    to: str,
    expect: tuple[str, ...],
    lease_s: float,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Move a message this owner holds to stage `to` (merging `payload` in), in the caller's
    transaction; False when the owner lost it or it is no longer in an `expect`ed stage.

    The lease is extended too: a stage change is proof of life.
    """
    c = _table.c
    now = utcnow()
    values: dict[str, Any] = {
        "status": to,
        "updated_at": now,
        "lease_until": None if to == "done" else now + timedelta(seconds=lease_s),
    }
    if payload:
        current = (
            await session.execute(
                select(c.payload).where(c.event_id == event_id, c.lease_owner == owner)
            )
        ).scalar_one_or_none()
        values["payload"] = {**(current or {}), **payload}
    result = await session.execute(
        update(_table)
        .where(c.event_id == event_id, c.lease_owner == owner, c.status.in_(expect))
        .values(**values)
        .returning(c.event_id)
    )
    return result.first() is not None


async def advance_now(
    db: Database,
    event_id: str,
    owner: str,
    *,
    to: str,
    expect: tuple[str, ...],
    lease_s: float,
    payload: dict[str, Any] | None = None,
) -> bool:
    """`advance` in a transaction of its own."""
    async with db.transaction() as session:
        return await advance(
            session, event_id, owner, to=to, expect=expect, lease_s=lease_s, payload=payload
        )


async def release(db: Database, owner: str, event_ids: list[str]) -> None:
    """Give leases back at once (a graceful stop, a failed attempt): any process, this one
    included, takes them on its next sweep, and that counts as a new attempt."""
    if not event_ids:
        return
    c = _table.c
    async with db.transaction() as session:
        await session.execute(
            update(_table)
            .where(c.event_id.in_(event_ids), c.lease_owner == owner, c.status.in_(UNDONE))
            .values(lease_owner=None, lease_until=None, updated_at=utcnow())
        )


async def abandoned(
    db: Database,
    owner: str,
    sources: tuple[str, ...],
    *,
    replica_prefix: str | None = None,
    limit: int = 100,
) -> list[str]:
    """Unfinished messages nobody live is holding (oldest first): what a sweep takes over.

    This owner's own rows count once their lease ran out: a message it stored but lost track
    of (its answer failed and was handed back, its first store was refused halfway).
    """
    now = utcnow()
    c = _table.c
    stmt = (
        select(c.event_id)
        .where(
            c.status.in_(UNDONE),
            c.source.in_(sources),
            _takeable(owner, now, replica_prefix),
            or_(c.lease_owner.is_(None), c.lease_owner != owner, c.lease_until < now),
        )
        .order_by(c.created_at, c.event_id)
        .limit(limit)
    )
    async with db.sessions() as session:
        return [r[0] for r in await session.execute(stmt)]


async def stage_of(db: Database, event_id: str) -> tuple[str, str | None] | None:
    """(status, lease owner) of a stored message, or None when there is none."""
    c = _table.c
    async with db.sessions() as session:
        row = (
            await session.execute(select(c.status, c.lease_owner).where(c.event_id == event_id))
        ).first()
    return (row.status, row.lease_owner) if row is not None else None


async def undone_count(db: Database, sources: tuple[str, ...] | None = None) -> int:
    """How many messages still need work (health checks, tests)."""
    c = _table.c
    stmt = select(func.count()).select_from(_table).where(c.status.in_(UNDONE))
    if sources:
        stmt = stmt.where(c.source.in_(sources))
    async with db.sessions() as session:
        return int((await session.execute(stmt)).scalar_one())
