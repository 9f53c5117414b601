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

import functools
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Dialect, and_, bindparam, case, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from viraltracker_bot.storage.bulk import SqlitePlan, compile_for_sqlite
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.dialects import as_utc, insert_for
from viraltracker_bot.storage.sqlite_driver import COMMITS
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
    attempts: int = Field(0, description="how many times a process took it on (1 at first)")
    created_at: datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


# Every statement is built once, with bound parameters: a message passes through five of them,
# and building SQLAlchemy expressions anew each time cost more than running them.

_c = _table.c


@functools.cache
def _record_insert(dialect: str) -> Any:
    """A message's row, unless its event is stored already."""
    return insert_for(dialect, _table).on_conflict_do_nothing(index_elements=["event_id"])


@functools.cache
def _record_stmt(dialect: str) -> Any:
    return _record_insert(dialect).returning(_c.event_id)


@functools.cache
def _record_plan(dialect: Dialect, columns: tuple[str, ...]) -> SqlitePlan:
    """SQLite: the same INSERT for the driver itself (one row per execute: no RETURNING)."""
    return compile_for_sqlite(dialect, _table, _record_insert(dialect.name), columns)


class NewMessage(BaseModel):
    """A message to store: which event, from where, in which conversation, written when."""

    event_id: str
    source: str
    conversation_key: str | None
    payload: dict[str, Any]
    owner: str
    lease_s: float
    at: datetime | None = None


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
    message = NewMessage(
        event_id=event_id,
        source=source,
        conversation_key=conversation_key,
        payload=payload,
        owner=owner,
        lease_s=lease_s,
        at=at,
    )
    return (await record_many(db, [message]))[0]


async def record_many(db: Database, messages: Sequence[NewMessage]) -> list[bool]:
    """Store several messages in one transaction; for each, whether it is new.

    Of two copies of one event in the same batch, the first is the new one.
    """
    if not messages:
        return []
    now = utcnow()
    firsts: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for index, m in enumerate(messages):
        if m.event_id in firsts:
            continue
        firsts[m.event_id] = index
        rows.append(
            {
                "event_id": m.event_id,
                "source": m.source,
                "conversation_key": m.conversation_key,
                "status": "pending",
                "payload": m.payload,
                "lease_owner": m.owner,
                "lease_until": now + timedelta(seconds=m.lease_s),
                "attempts": 0,
                "created_at": m.at or now,
                "updated_at": now,
            }
        )
    if db.is_sqlite:
        stored = await _record_on_sqlite(db, rows)
    else:
        stored = await _record_on_postgresql(db, rows)
    return [firsts[m.event_id] == i and m.event_id in stored for i, m in enumerate(messages)]


async def _record_on_sqlite(db: Database, rows: list[dict[str, Any]]) -> set[str]:
    """The new messages stored at once, commit included, the values prepared before, through
    the connection kept for it (`sqlite_driver.KeptWriter`, which writes on the event loop).

    This is what a burst of events waits for before its acknowledgements. Through a session
    and SQLAlchemy's statement execution it was a pool checkout and return and two trips (the
    INSERT, the commit), each waiting for a busy event loop: 5 ms p50 for a batch of twenty
    where SQLite worked half of one (bench/slack_ack.py). (One multi-row INSERT instead of one
    per message was slower: SQLite spent 50 us a row on it against 30.)
    """
    assert db.kept_writer is not None
    plan = _record_plan(db.engine.dialect, tuple(rows[0]))
    params = plan.parameters(rows)
    event_ids = [row["event_id"] for row in rows]

    def write(connection: sqlite3.Connection) -> set[str]:
        return {
            event_id
            for event_id, values in zip(event_ids, params, strict=True)
            if connection.execute(plan.sql, values).rowcount == 1
        }

    return await db.kept_writer.run(write)


async def _record_on_postgresql(db: Database, rows: list[dict[str, Any]]) -> set[str]:
    """The new messages, stored by one statement in autocommit: one round trip to the server.

    In a transaction it was three (BEGIN, the INSERT, COMMIT), each waiting for the server
    process and then for a busy event loop, and a burst's acks wait for them. One statement is
    atomic on its own, and each message is stored or not independently of the others.
    """
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        result = await autocommit.execute(_record_stmt(db.dialect), rows)
        return {r[0] for r in result}


def _takeable(with_prefix: bool) -> Any:
    """Rows this owner may take: its own, unowned, lapsed, or its dead predecessor's."""
    owner, now = bindparam("owner"), bindparam("now", type_=_c.lease_until.type)
    clauses = [_c.lease_owner == owner, _c.lease_owner.is_(None), _c.lease_until < now]
    if with_prefix:
        prefix = bindparam("prefix")
        clauses.append(
            and_(
                func.substr(_c.lease_owner, 1, func.length(prefix)) == prefix,
                _c.lease_owner != owner,
            )
        )
    return or_(*clauses)


def _blocked() -> Any:
    """Another message of the same conversation must go first, or is being worked on."""
    o = _table.alias("o").c
    return exists().where(
        o.conversation_key == _c.conversation_key,
        o.event_id != _c.event_id,
        o.status.in_(UNDONE),
        or_(
            o.created_at < _c.created_at,
            and_(o.created_at == _c.created_at, o.event_id < _c.event_id),
            and_(o.status != "pending", o.lease_until >= bindparam("now")),
        ),
    )


@functools.cache
def _claim_stmt(with_prefix: bool) -> Any:
    taking_over = or_(_c.status == "pending", _c.lease_owner.is_distinct_from(bindparam("owner")))
    return (
        update(_table)
        .where(
            _c.event_id == bindparam("eid"),
            _c.status.in_(UNDONE),
            _takeable(with_prefix),
            ~_blocked(),
        )
        .values(
            status=case((_c.status == "pending", "working"), else_=_c.status),
            attempts=_c.attempts + case((taking_over, 1), else_=0),
            lease_owner=bindparam("owner"),
            lease_until=bindparam("until", type_=_c.lease_until.type),
            updated_at=bindparam("now", type_=_c.updated_at.type),
        )
        .returning(
            _c.event_id,
            _c.source,
            _c.conversation_key,
            _c.status,
            _c.payload,
            _c.attempts,
            _c.created_at,
        )
    )


_LOCK_CONVERSATION = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(conversation_key, 0)) "
    "FROM processed_events WHERE event_id = :eid AND conversation_key IS NOT NULL"
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
    params: dict[str, Any] = {
        "eid": event_id,
        "owner": owner,
        "until": now + timedelta(seconds=lease_s),
        "now": now,
    }
    if replica_prefix:
        params["prefix"] = replica_prefix
    async with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            await connection.execute(_LOCK_CONVERSATION, {"eid": event_id})
        result = await connection.execute(
            _claim_stmt(bool(replica_prefix)), params, execution_options=COMMITS
        )
        row = result.mappings().first()
    if row is None:
        return None
    return InboxItem(
        event_id=row["event_id"],
        source=row["source"],
        conversation_key=row["conversation_key"],
        status=row["status"],
        payload=dict(row["payload"] or {}),
        lease_owner=owner,
        attempts=int(row["attempts"]),
        created_at=as_utc(row["created_at"]) or now,
    )


async def renew(db: Database, owner: str, event_ids: list[str], lease_s: float) -> set[str]:
    """Extend this owner's leases; returns the ids it still holds (a lost one was taken over)."""
    if not event_ids:
        return set()
    now = utcnow()
    async with db.engine.begin() as connection:
        result = await connection.execute(
            update(_table)
            .where(_c.event_id.in_(event_ids), _c.lease_owner == owner, _c.status.in_(UNDONE))
            .values(lease_until=now + timedelta(seconds=lease_s))
            .returning(_c.event_id),
            execution_options=COMMITS,
        )
        return {r[0] for r in result}


@functools.cache
def _advance_stmt(expect: tuple[str, ...], with_payload: bool) -> Any:
    values: dict[str, Any] = {
        "status": bindparam("to"),
        "updated_at": bindparam("now", type_=_c.updated_at.type),
        "lease_until": bindparam("until", type_=_c.lease_until.type),
    }
    if with_payload:
        values["payload"] = bindparam("data", type_=_c.payload.type)
    return (
        update(_table)
        .where(
            _c.event_id == bindparam("eid"),
            _c.lease_owner == bindparam("owner"),
            _c.status.in_(expect),
        )
        .values(**values)
        .returning(_c.event_id)
    )


_PAYLOAD = select(_c.payload).where(
    _c.event_id == bindparam("eid"), _c.lease_owner == bindparam("owner")
)


async def advance(
    session: AsyncSession | AsyncConnection,
    event_id: str,
    owner: str,
    *,
    to: str,
    expect: tuple[str, ...],
    lease_s: float,
    payload: dict[str, Any] | None = None,
    last: bool = False,
) -> bool:
    """Move a message this owner holds to stage `to` (merging `payload` in), in the caller's
    transaction; False when the owner lost it or it is no longer in an `expect`ed stage.

    The lease is extended too: a stage change is proof of life. `last`: this is the
    transaction's last statement (on SQLite it commits in the same trip).
    """
    now = utcnow()
    params: dict[str, Any] = {
        "eid": event_id,
        "owner": owner,
        "to": to,
        "now": now,
        "until": None if to == "done" else now + timedelta(seconds=lease_s),
    }
    if payload:
        ids = {"eid": event_id, "owner": owner}
        current = (await session.execute(_PAYLOAD, ids)).scalar_one_or_none()
        params["data"] = {**(current or {}), **payload}
    stmt = _advance_stmt(tuple(expect), bool(payload))
    options = COMMITS if last else {}
    return (await session.execute(stmt, params, execution_options=options)).first() is not None


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
    async with db.engine.begin() as connection:
        return await advance(
            connection,
            event_id,
            owner,
            to=to,
            expect=expect,
            lease_s=lease_s,
            payload=payload,
            last=True,
        )


async def release(db: Database, owner: str, event_ids: list[str]) -> None:
    """Give leases back at once (a graceful stop, a failed attempt): any process, this one
    included, takes them on its next sweep, and that counts as a new attempt."""
    if not event_ids:
        return
    async with db.engine.begin() as connection:
        await connection.execute(
            update(_table)
            .where(_c.event_id.in_(event_ids), _c.lease_owner == owner, _c.status.in_(UNDONE))
            .values(lease_owner=None, lease_until=None, updated_at=utcnow())
        )


@functools.cache
def _abandoned_stmt(with_prefix: bool) -> Any:
    now = bindparam("now", type_=_c.lease_until.type)
    return (
        select(_c.event_id)
        .where(
            _c.status.in_(UNDONE),
            _c.source.in_(bindparam("sources", expanding=True)),
            _takeable(with_prefix),
            or_(
                _c.lease_owner.is_(None), _c.lease_owner != bindparam("owner"), _c.lease_until < now
            ),
        )
        .order_by(_c.created_at, _c.event_id)
        .limit(bindparam("limit"))
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
    params: dict[str, Any] = {
        "owner": owner,
        "now": utcnow(),
        "sources": list(sources),
        "limit": limit,
    }
    if replica_prefix:
        params["prefix"] = replica_prefix
    async with db.engine.connect() as connection:
        rows = await connection.execute(_abandoned_stmt(bool(replica_prefix)), params)
        return [r[0] for r in rows]


_STAGE = select(_c.status, _c.lease_owner, _c.conversation_key).where(
    _c.event_id == bindparam("eid")
)


async def stage_of(db: Database, event_id: str) -> tuple[str, str | None] | None:
    """(status, lease owner) of a stored message, or None when there is none."""
    found = await stage_and_key(db, event_id)
    return found[:2] if found is not None else None


async def stage_and_key(db: Database, event_id: str) -> tuple[str, str | None, str | None] | None:
    """(status, lease owner, conversation key) of a stored message, or None."""
    async with db.engine.connect() as connection:
        row = (await connection.execute(_STAGE, {"eid": event_id})).first()
    return (row.status, row.lease_owner, row.conversation_key) if row is not None else None


async def undone_count(db: Database, sources: tuple[str, ...] | None = None) -> int:
    """How many messages still need work (health checks, tests)."""
    c = _table.c
    stmt = select(func.count()).select_from(_table).where(c.status.in_(UNDONE))
    if sources:
        stmt = stmt.where(c.source.in_(sources))
    async with db.sessions() as session:
        return int((await session.execute(stmt)).scalar_one())
