"""SQLAlchemy's aiosqlite dialect, with one trip to aiosqlite's thread per statement.

aiosqlite runs every sqlite3 call in a thread of its own, and each call is a trip there and
back: a queue put, a thread wake-up and a loop wake-up through the self-pipe, about 65 us of CPU
on this kind of machine, far more than the statement itself. SQLAlchemy's adapter makes four
trips per statement (open a cursor, execute, fetch the rows, close the cursor) and one more per
pooled connection returned (its rollback, also after a commit). Under a burst of chat events
those trips were most of the cost of storing a message before its ack, and a large part of an
answer's.

Here a statement is run, fetched and closed in one function on aiosqlite's thread, and a
rollback or commit is skipped when sqlite3 said after the last statement that no transaction
is open (a connection going back to the pool after its commit, a session that only read):
sqlite3 would find nothing to end.

SQLite has one writer at a time, and a connection that finds the write lock taken waits in
SQLite's busy handler, which polls with sleeps growing to 100 ms: with a few hundred answers in
flight, writes waited up to a second for a lock that had long been free. So the connections of
one engine take turns writing through an asyncio lock instead (FIFO, woken the moment the
previous writer commits); SQLite's own locking stays underneath for other processes. A
connection takes the turn at its first INSERT, UPDATE, DELETE, REPLACE or BEGIN and gives it
back when its transaction ends.

The busiest write transactions (a search's posts, their ids, the run and its links) also run
as one trip (`run_in_turn`): their values are prepared on the event loop, then every statement
runs on aiosqlite's thread at once. A transaction of four statements otherwise held the write
turn across four round trips through a busy event loop (13 ms where SQLite worked 2), and every
other write of the process queued behind it.

A transaction whose last statement is its only write (a claim, a stage change, a counter) can
have its commit made in that statement's trip (`COMMITS`): the write turn is then held for one
trip instead of two, and SQLAlchemy's own commit finds nothing left to do.

The inbox's group commits (what a burst of events waits on before its acknowledgements) skip
aiosqlite's thread altogether: `KeptWriter` writes them on the event loop, through a connection
that never waits for a lock (the one blocking I/O on the loop, and why it is bounded, is told
there).

Everything else is SQLAlchemy's own aiosqlite dialect. This leans on what SQLAlchemy's adapter
itself uses of aiosqlite (`Connection._execute` to run a function on its thread, `_conn` for the
sqlite3 connection) and on that adapter's cursor internals; `pyproject.toml` keeps both
libraries to the minor versions this was checked against.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.util.concurrency import await_

DRIVER = "viraltracker_aiosqlite"
"""The driver name under which `Database` reaches this dialect (`sqlite+aiosqlite` URLs)."""

_COMMITS = "viraltracker_commits"
COMMITS = {_COMMITS: True}
"""Execution options for a transaction's last statement: commit in its trip (SQLite only;
other databases ignore them and commit when the transaction ends, as always)."""

WRITER_WAIT_S = 30.0
"""How long a write waits for its turn before failing, as SQLite's busy timeout would."""

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN")

Outcome = tuple[Any, list[Any], int, int | None, bool]
"""What one statement leaves behind: description, rows, rowcount, lastrowid, in a transaction."""


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool, commit: bool
) -> Outcome:
    """On aiosqlite's thread: the whole statement, rows fetched, cursor closed (and with
    `commit`, the transaction committed)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        outcome = description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()
    if commit:
        connection.commit()
    return *outcome, connection.in_transaction


T = TypeVar("T")


def _run_work(
    connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], commit: bool
) -> tuple[T, bool]:
    """On aiosqlite's thread: several statements, and whether a transaction is left open."""
    result = work(connection)
    if commit:
        connection.commit()
    return result, connection.in_transaction


async def run_in_turn(
    session: AsyncSession, work: Callable[[sqlite3.Connection], T], *, commit: bool = False
) -> T:
    """Run `work` on the session's sqlite3 connection, on its thread, holding the write turn.

    It runs in the session's transaction, in one trip; the session commits or rolls it back as
    usual, or with `commit` it is committed in the same trip (the write turn is then free as
    soon as the trip is back; the session's own commit finds nothing left to do, so this must
    be its last statement). For writes only: it takes the turn. `work` must not commit.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    assert isinstance(adapted, OneTripConnection), "run_in_turn is for the SQLite driver only"
    try:
        return await adapted.run_in_turn(work, commit=commit)
    except sqlite3.Error as error:
        raise _as_sqlalchemy_error(error) from error


def _as_sqlalchemy_error(error: sqlite3.Error) -> DBAPIError:
    """The error SQLAlchemy raises for its own statements (IntegrityError, OperationalError)."""
    return DBAPIError.instance(None, None, error, sqlite3.Error)


class KeptWriter:
    """A connection of an engine set aside for its most frequent small write (the inbox's group
    commits, which a burst of events waits on before its acknowledgements).

    Each write is `work` and its commit at once, taking the write turn like every other writer,
    with no session and no pool checkout (about a millisecond of a busy event loop each). And it
    runs on the event loop itself, through a sqlite3 connection of its own: under a burst of
    events a batch's trip to aiosqlite's thread and back took 1.4-1.8 ms p50 (3-4.5 at p90)
    where SQLite worked 0.2, and every event of the batch waited for it before its ack (in
    bench/slack_ack.py's rounds, instrumented and alternated, the waiting core's ack p50 went
    from 1.26-1.35 times the bare bolt app's to 1.02-1.22; on the loop a batch takes 0.2-0.3 ms
    p50). That is blocking I/O on the event loop, kept short and bounded: a commit in WAL mode
    with synchronous=NORMAL is a write into the WAL, no fsync; the connection never waits for
    SQLite's lock (busy_timeout 0): when another process holds it, the write goes to
    aiosqlite's thread as before and waits there; and it never checkpoints (the background
    checkpoints and other connections' commits do). In-memory databases and URI file names
    keep the thread. Writes through it go one at a time.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self._adapted: OneTripConnection | None = None
        self._lock = asyncio.Lock()
        self._path = _plain_file(engine.url.database)
        self._direct: sqlite3.Connection | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            if self._path is not None:
                done = await self._run_on_loop(work)
                if done is not _BUSY:
                    return done  # type: ignore[return-value]
            adapted = self._adapted
            if adapted is None:
                adapted = self._adapted = await self._connect()
            try:
                return await adapted.run_in_turn(work, commit=True)
            except BaseException as error:
                await adapted.abandon()
                if isinstance(error, sqlite3.Error):
                    raise _as_sqlalchemy_error(error) from error
                raise

    async def _run_on_loop(self, work: Callable[[sqlite3.Connection], T]) -> T | object:
        """`work` and its commit on the event loop; `_BUSY` when another process writes."""
        assert self._path is not None
        if self._direct is None:
            self._direct = await asyncio.to_thread(_connect_direct, self._path)
        connection = self._direct
        turn = await take_turn(self.engine.dialect.dbapi.turns)
        try:
            result = work(connection)
            connection.commit()
            return result
        except BaseException as error:
            connection.rollback()
            if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
                return _BUSY
            if isinstance(error, sqlite3.Error):
                raise _as_sqlalchemy_error(error) from error
            raise
        finally:
            turn.release()

    async def _connect(self) -> OneTripConnection:
        self._connection = await self.engine.connect()
        raw = await self._connection.get_raw_connection()
        adapted = raw.dbapi_connection
        assert isinstance(adapted, OneTripConnection), "KeptWriter is for SQLite only"
        return adapted

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                await self._connection.close()
            if self._direct is not None:
                self._direct.close()
            self._connection = self._adapted = self._direct = None


_BUSY = object()
"""What a write on the event loop returns when SQLite's lock is another process's."""

_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)


def _plain_file(database: str | None) -> str | None:
    """The database's file path, when it is a plain file (not in memory, not a URI)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _connect_direct(path: str) -> sqlite3.Connection:
    """In a worker thread (opening may wait for a lock): the connection `KeptWriter` writes
    through on the event loop, then never waiting for a lock nor checkpointing."""
    connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
    set_up(connection)
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("PRAGMA busy_timeout=0")
    return connection


def set_up(connection: sqlite3.Connection) -> None:
    """Every connection's settings: WAL (readers run beside the writer), commits without an
    fsync (synchronous=NORMAL: WAL stays consistent), foreign keys (off by default in SQLite),
    and a busy timeout for the locks other processes hold."""
    into_wal(connection)
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        connection.execute(f"PRAGMA {pragma}")


def into_wal(connection: sqlite3.Connection, within_s: float = WRITER_WAIT_S) -> None:
    """Switch the database to WAL (once per database; later a no-op), trying again while
    another process holds its write lock.

    SQLite answers a switch that meets another connection's write transaction with "database
    is locked" at once, without its busy handler: two processes opening a new database
    together (two replicas, a deploy) failed that way about one start in ten.
    """
    deadline = time.monotonic() + within_s
    pause_s = 0.01
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause_s)  # on aiosqlite's thread, or a worker's: never the event loop
        pause_s = min(pause_s * 2, 0.2)


def on_its_thread(dbapi_connection: Any, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` on the sqlite3 connection behind SQLAlchemy's adapted one, on aiosqlite's thread,
    from SQLAlchemy's synchronous connection events (which run in its greenlet)."""
    driver = dbapi_connection._connection
    return await_(driver._execute(work, driver._conn))


def _writes(operation: str) -> bool:
    """Whether a statement takes SQLite's write lock (sqlite3 begins a transaction before DML)."""
    return operation.lstrip()[:7].upper().startswith(_WRITES)


async def take_turn(turns: WriterTurns) -> asyncio.Lock:
    """The engine's write turn, held until the returned lock is released.

    A free turn is taken without yielding to the event loop; a taken one is waited for. Not
    `asyncio.wait_for`: before Python 3.12 it wraps the wait in a task of its own, two passes
    of the event loop even when the turn is free, which under a burst of events cost every
    write 1-2 ms p50 (10 at p90) of waiting for nothing.
    """
    lock = turns.lock()
    try:
        async with asyncio.timeout(WRITER_WAIT_S):
            await lock.acquire()
    except TimeoutError:
        raise sqlite3.OperationalError("database is locked") from None
    return lock


class WriterTurns:
    """The write turn of one engine's connections, one asyncio lock per event loop."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        found = self._locks.get(loop)
        if found is None:
            found = self._locks[loop] = asyncio.Lock()
        return found


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose rows arrive with its statement; nothing to open or close."""

    __slots__ = ("_description", "_lastrowid", "_rowcount", "commits")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self.commits = False  # this statement ends its transaction (`COMMITS`)

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1  # sqlite3's default; SQLAlchemy fetches client-side rows all at once anyway

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return None  # there is no sqlite3 cursor left open

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapt: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if adapt.writer is None and isinstance(operation, str) and _writes(operation):
            await adapt.take_turn()
        async with adapt._execute_mutex:
            adapt.in_transaction = True  # until sqlite3 says
            driver = self._connection
            outcome: Outcome = await driver._execute(
                _run, driver._conn, operation, parameters, many, self.commits
            )
            self._description, rows, self._rowcount, self._lastrowid, open_ = outcome
            adapt.in_transaction = open_
            if not open_:
                adapt.end_turn()  # a statement outside a transaction (DDL, PRAGMA)
        self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's adapted connection, with one-trip cursors and no empty transaction ends."""

    __slots__ = ("in_transaction", "turns", "writer")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any, turns: WriterTurns) -> None:
        super().__init__(dbapi, connection)
        # Whether sqlite3 had a transaction open after the last statement (True when unsure:
        # the first end is never skipped, nor one after a failed statement).
        self.in_transaction = True
        self.turns = turns
        self.writer: asyncio.Lock | None = None  # the lock whose turn this connection holds

    async def take_turn(self) -> None:
        self.writer = await take_turn(self.turns)

    async def run_in_turn(self, work: Callable[[sqlite3.Connection], T], *, commit: bool) -> T:
        if self.writer is None:
            await self.take_turn()
        async with self._execute_mutex:
            self.in_transaction = True  # until sqlite3 says
            driver = self._connection
            result, open_ = await driver._execute(_run_work, driver._conn, work, commit)
            self.in_transaction = open_
            if not open_:
                self.end_turn()
        return result

    async def abandon(self) -> None:
        """Roll back what a failed `run_in_turn` left open and give the turn back (outside
        SQLAlchemy, which would otherwise do it when the connection is returned)."""
        try:
            if self.in_transaction:
                await self._connection.rollback()
                self.in_transaction = False
        finally:
            self.end_turn()

    def end_turn(self) -> None:
        if self.writer is not None:
            self.writer, lock = None, self.writer
            lock.release()

    def rollback(self) -> None:
        try:
            if self.in_transaction:
                super().rollback()
                self.in_transaction = False
        finally:
            self.end_turn()

    def commit(self) -> None:
        if self.in_transaction:
            super().commit()
            self.in_transaction = False
        self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()

    def terminate(self) -> None:
        try:
            super().terminate()
        finally:
            self.end_turn()


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """One per engine: its connections share the write turn."""

    def __init__(self, aiosqlite: Any, sqlite: Any) -> None:
        super().__init__(aiosqlite, sqlite)
        self.turns = WriterTurns()

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection, self.turns)


class OneTripDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        _mark_commits(cursor, context)
        super().do_execute(cursor, statement, parameters, context)

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        _mark_commits(cursor, context)
        super().do_executemany(cursor, statement, parameters, context)

    @classmethod
    def import_dbapi(cls) -> OneTripDbapi:
        return OneTripDbapi(__import__("aiosqlite"), __import__("sqlite3"))


def _mark_commits(cursor: Any, context: Any) -> None:
    if context is not None and context.execution_options.get(_COMMITS):
        cursor.commits = True


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripDialect")
