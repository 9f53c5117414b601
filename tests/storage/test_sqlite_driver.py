"""The SQLite driver: one trip to aiosqlite's thread per statement, and writers taking turns.

These run on SQLite only: the driver is what `Database` uses for `sqlite+aiosqlite` URLs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from viraltracker_bot.storage import sqlite_driver
from viraltracker_bot.storage.database import Database


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE)"))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every function sent to an aiosqlite thread, by name."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


def test_sqlite_urls_use_the_one_trip_driver(sqlite_db: Database) -> None:
    assert isinstance(sqlite_db.engine.dialect, sqlite_driver.OneTripDialect)
    assert sqlite_db.dialect == "sqlite"


async def test_a_read_is_one_trip_and_returning_the_connection_costs_none(
    sqlite_db: Database, trips: list[str]
) -> None:
    async with sqlite_db.engine.connect() as conn:  # warm the pool: its first rollback is real
        await conn.execute(text("SELECT 1"))
    trips.clear()
    async with sqlite_db.sessions() as session:
        found = (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    assert found == 0
    assert trips == ["_run"]  # no cursor to open or close, no rollback of nothing


async def test_a_write_transaction_is_its_statement_and_its_commit(
    sqlite_db: Database, trips: list[str]
) -> None:
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("SELECT 1"))
    trips.clear()
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('a')"))
    assert trips == ["_run", "commit"]


async def test_a_last_statement_commits_in_its_own_trip_and_frees_the_turn_at_once(
    sqlite_db: Database, trips: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction of one write marked `COMMITS` holds the write turn for one trip: a
    writer on another connection goes ahead before the first transaction's block is left."""
    monkeypatch.setattr(sqlite_driver, "WRITER_WAIT_S", 5.0)
    async with sqlite_db.engine.begin() as one, sqlite_db.engine.begin() as two:  # warm two
        await one.execute(text("SELECT 1"))
        await two.execute(text("SELECT 1"))
    trips.clear()
    async with sqlite_db.engine.begin() as conn:
        returned = await conn.execute(
            text("INSERT INTO notes (body) VALUES ('a') RETURNING id"),
            execution_options=sqlite_driver.COMMITS,
        )
        assert returned.scalar_one() == 1
        assert trips == ["_run"]  # the statement, its rows and the commit: one trip
        async with sqlite_db.engine.begin() as other:  # would time out were the turn held
            await other.execute(text("INSERT INTO notes (body) VALUES ('b')"))
    assert trips == ["_run", "_run", "commit"]  # nothing left to commit for the first
    many = [{"b": "c"}, {"b": "d"}]
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO notes (body) VALUES (:b)"),
            many,
            execution_options=sqlite_driver.COMMITS,
        )
        # A statement after it starts a transaction of its own, committed at the end.
        await conn.execute(text("UPDATE notes SET body = 'a!' WHERE body = 'a'"))
    async with sqlite_db.sessions() as session:
        bodies = (await session.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
        assert list(bodies) == ["a!", "b", "c", "d"]


async def test_a_failed_last_statement_commits_nothing_and_gives_the_turn_back(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "WRITER_WAIT_S", 5.0)
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
            await conn.execute(
                text("INSERT INTO notes (body) VALUES ('kept?')"),  # UNIQUE: fails
                execution_options=sqlite_driver.COMMITS,
            )
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('next')"))
    async with sqlite_db.sessions() as session:
        bodies = (await session.execute(text("SELECT body FROM notes"))).scalars()
        assert list(bodies) == ["next"]  # the first insert went with the failed transaction


async def test_rows_rowcount_lastrowid_and_executemany(sqlite_db: Database) -> None:
    async with sqlite_db.engine.begin() as conn:
        inserted = await conn.execute(
            text("INSERT INTO notes (body) VALUES (:b)"), [{"b": "x"}, {"b": "y"}, {"b": "z"}]
        )
        assert inserted.rowcount == 3
        one = await conn.execute(text("INSERT INTO notes (body) VALUES ('w')"))
        assert one.lastrowid == 4
        returned = await conn.execute(
            text("UPDATE notes SET body = body || '!' WHERE id > 2 RETURNING id")
        )
        assert sorted(r[0] for r in returned) == [3, 4]
        updated = await conn.execute(text("UPDATE notes SET body = 'q' WHERE id = 1"))
        assert updated.rowcount == 1
    async with sqlite_db.sessions() as session:
        rows = (await session.execute(text("SELECT id, body FROM notes ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [(1, "q"), (2, "y"), (3, "z!"), (4, "w!")]


async def test_the_write_turn_is_given_back_after_a_failed_transaction(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "WRITER_WAIT_S", 5.0)
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('dup')"))
    async with sqlite_db.engine.connect() as failed:
        with pytest.raises(IntegrityError):
            async with failed.begin():
                await failed.execute(text("INSERT INTO notes (body) VALUES ('dup')"))
        # Another connection (this one is still checked out): were the turn kept by the
        # failed one, this write would wait for it and fail with "database is locked".
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('next')"))
    async with sqlite_db.sessions() as session:
        count = (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    assert count == 2


async def test_a_writer_waits_for_the_turn_and_writes_when_it_is_free(
    sqlite_db: Database,
) -> None:
    first_wrote = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('first')"))
            first_wrote.set()
            await release.wait()

    async def second() -> None:
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('second')"))

    holding = asyncio.create_task(holder())
    await asyncio.wait_for(first_wrote.wait(), 10)
    waiting = asyncio.create_task(second())
    done, _ = await asyncio.wait({waiting}, timeout=0.2)
    assert not done  # it is waiting for its turn, not writing beside the first
    release.set()
    await asyncio.wait_for(asyncio.gather(holding, waiting), 10)
    async with sqlite_db.sessions() as session:
        bodies = (await session.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
        assert list(bodies) == ["first", "second"]


async def test_a_free_turn_is_taken_at_once_and_a_held_one_times_out(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taking a free turn must not wait for a pass of a busy event loop; a turn never given
    back fails the waiting write as SQLite's busy timeout would."""
    monkeypatch.setattr(sqlite_driver, "WRITER_WAIT_S", 0.2)
    async with sqlite_db.engine.connect() as first, sqlite_db.engine.connect() as second:
        holder = (await first.get_raw_connection()).dbapi_connection
        waiter = (await second.get_raw_connection()).dbapi_connection
        assert isinstance(holder, sqlite_driver.OneTripConnection)
        assert isinstance(waiter, sqlite_driver.OneTripConnection)
        taking = holder.take_turn()
        with pytest.raises(StopIteration):
            taking.send(None)  # done without suspending: no task, no pass of the loop
        assert holder.writer is not None
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await waiter.take_turn()
        holder.end_turn()
        await asyncio.wait_for(waiter.take_turn(), 5)  # free again: the next writer goes
        waiter.end_turn()


async def test_many_concurrent_writers_all_commit(sqlite_db: Database) -> None:
    async def write(i: int) -> None:
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"n{i}"})
            await asyncio.sleep(0)  # other writers queue up meanwhile
            await conn.execute(
                text("UPDATE notes SET body = body || '.' WHERE body = :b"), {"b": f"n{i}"}
            )

    await asyncio.wait_for(asyncio.gather(*(write(i) for i in range(60))), 60)
    async with sqlite_db.sessions() as session:
        bodies = set((await session.execute(text("SELECT body FROM notes"))).scalars())
    assert bodies == {f"n{i}." for i in range(60)}


async def test_work_run_in_the_turn_is_one_trip_with_its_commit(
    sqlite_db: Database, trips: list[str]
) -> None:
    async with sqlite_db.engine.begin() as conn:  # warm the pool
        await conn.execute(text("SELECT 1"))
    trips.clear()

    def write(connection: Any) -> int:
        connection.executemany("INSERT INTO notes (body) VALUES (?)", [("a",), ("b",)])
        return connection.execute("SELECT count(*) FROM notes").fetchone()[0]

    async with sqlite_db.transaction() as session:
        assert await sqlite_driver.run_in_turn(session, write, commit=True) == 2

    assert trips == ["_run_work"]  # the session's own commit finds nothing to do
    async with sqlite_db.engine.begin() as conn:  # and the write turn is free
        await conn.execute(text("INSERT INTO notes (body) VALUES ('c')"))


async def test_work_failing_in_the_turn_is_rolled_back_and_gives_the_turn_back(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "WRITER_WAIT_S", 5.0)

    def write(connection: Any) -> None:
        connection.execute("INSERT INTO notes (body) VALUES ('lost')")
        connection.execute("INSERT INTO notes (body) VALUES ('lost')")  # UNIQUE: fails

    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with sqlite_db.transaction() as session:
            await sqlite_driver.run_in_turn(session, write, commit=True)

    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO notes (body) VALUES ('next')"))
    async with sqlite_db.sessions() as session:
        bodies = (await session.execute(text("SELECT body FROM notes"))).scalars()
        assert list(bodies) == ["next"]


async def test_the_kept_writer_commits_at_once_and_recovers_from_a_failure(
    sqlite_db: Database, trips: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "WRITER_WAIT_S", 5.0)
    writer = sqlite_driver.KeptWriter(sqlite_db.engine)

    def insert(*bodies: str) -> Any:
        def work(connection: Any) -> int:
            for body in bodies:
                connection.execute("INSERT INTO notes (body) VALUES (?)", (body,))
            return len(bodies)

        return work

    assert await writer.run(insert("a", "b")) == 2
    trips.clear()
    assert await writer.run(insert("c")) == 1
    assert trips == []  # written on the event loop: no trip to aiosqlite's thread at all
    with pytest.raises(IntegrityError, match="UNIQUE"):
        await writer.run(insert("d", "a"))  # "d" goes with the failed transaction
    async with sqlite_db.engine.begin() as conn:  # the turn was given back
        await conn.execute(text("INSERT INTO notes (body) VALUES ('e')"))
    assert await writer.run(insert("f")) == 1  # and the writer still works
    await writer.close()
    async with sqlite_db.sessions() as session:
        bodies = (await session.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
        assert list(bodies) == ["a", "b", "c", "e", "f"]


async def test_the_kept_writer_waits_off_the_event_loop_when_another_process_writes(
    sqlite_db: Database, tmp_path: Path, trips: list[str]
) -> None:
    """It writes on the event loop, but never waits there: while another process holds
    SQLite's write lock, its write waits on aiosqlite's thread and the loop goes on; it lands
    once the lock is free."""
    writer = sqlite_driver.KeptWriter(sqlite_db.engine)

    def insert(body: str) -> Any:
        def work(connection: Any) -> str:
            connection.execute("INSERT INTO notes (body) VALUES (?)", (body,))
            return body

        return work

    assert await writer.run(insert("first")) == "first"  # opens its connection
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        other.execute("INSERT INTO notes (body) VALUES ('theirs')")
        trips.clear()
        clock = asyncio.get_running_loop().time
        waiting = asyncio.create_task(writer.run(insert("mine")))
        started = clock()
        while "_run_work" not in trips:  # handed to aiosqlite's thread
            await asyncio.sleep(0.01)
            # The loop was not held while the write found the lock taken (it would be for
            # SQLite's whole busy timeout, 30 s).
            assert clock() - started < 10
            assert not waiting.done(), waiting
        assert not waiting.done()  # it waits for the other process, off the event loop
        other.execute("COMMIT")
        assert await asyncio.wait_for(waiting, 30) == "mine"
    finally:
        other.close()
    await writer.close()
    async with sqlite_db.sessions() as session:
        bodies = (await session.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
        assert list(bodies) == ["first", "theirs", "mine"]


async def test_the_kept_writer_of_an_in_memory_database_uses_aiosqlites_thread(
    trips: list[str],
) -> None:
    """A second connection to ':memory:' would be another, empty database."""
    engine = create_async_engine(f"sqlite+{sqlite_driver.DRIVER}://")
    writer = sqlite_driver.KeptWriter(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))

        def work(connection: Any) -> None:
            connection.execute("INSERT INTO notes (body) VALUES ('kept')")

        trips.clear()
        await writer.run(work)
        assert trips == ["_run_work"]
        async with engine.connect() as conn:
            found = (await conn.execute(text("SELECT body FROM notes"))).scalars()
            assert list(found) == ["kept"]
    finally:
        await writer.close()
        await engine.dispose()


async def test_the_hot_single_write_transactions_commit_in_their_statements_trip(
    tmp_path: Path, trips: list[str]
) -> None:
    """A claim, a stage change and a rate count: every message makes each of them, and each
    holds the write turn for one trip (a read before it, where there is one, takes none)."""
    from viraltracker_bot.limits import count_in_window
    from viraltracker_bot.storage import inbox

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'hot.db'}")
    try:
        await db.upgrade()
        at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        await inbox.record(db, "C1:1", "slack", "k1", {}, owner="a/1", lease_s=60, at=at)
        await count_in_window(db, "messages:u1", at - timedelta(minutes=1))
        trips.clear()
        assert await count_in_window(db, "messages:u1", at) == 1  # a new window's first, too
        assert trips == ["_run"]
        trips.clear()
        assert await inbox.claim(db, "C1:1", "a/1", 60) is not None
        assert trips == ["_run"]
        trips.clear()
        done = await inbox.advance_now(db, "C1:1", "a/1", to="done", expect=("working",), lease_s=0)
        assert done and trips == ["_run"]
        trips.clear()
        assert await count_in_window(db, "messages:u1", at) == 2
        assert trips == ["_run"]
        assert await inbox.stage_of(db, "C1:1") == ("done", "a/1")  # and all of it committed
    finally:
        await db.dispose()


async def test_a_new_database_opens_while_another_process_holds_its_write_lock(
    tmp_path: Path,
) -> None:
    """Switching a database to WAL meets another process's write transaction with "database
    is locked" at once (SQLite skips its busy handler there): two replicas opening a new
    database together failed that way. The switch waits for the lock like any other."""
    from viraltracker_bot.storage.database import open_database

    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process, writing
        opening = asyncio.create_task(open_database(f"sqlite+aiosqlite:///{path}"))
        for _ in range(50):  # the switch meets the lock (and used to fail at once)
            if opening.done():
                break
            await asyncio.sleep(0.01)
        other.execute("COMMIT")
    finally:
        other.close()
    db = await asyncio.wait_for(opening, 60)
    try:
        async with db.engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            tables = (
                await conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
            ).scalars()
            assert mode == "wal"
            assert "processed_events" in set(tables)  # migrated
    finally:
        await db.dispose()
