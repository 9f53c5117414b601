"""Bulk upserts by natural key, fast on both databases; the ids come back by key."""

from __future__ import annotations

import functools
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.storage import sqlite_driver
from viraltracker_bot.storage.dialects import insert_for

# Rows per statement: bounds memory; SQLite takes a prepared statement per row anyway, and
# on PostgreSQL SQLAlchemy splits each statement further into multi-row VALUES pages.
CHUNK_ROWS = 5000
# Keys per `IN (...)` lookup, far below SQLite's 32,766 bound parameters.
_KEY_CHUNK = 5000

Key = tuple[Any, ...]
Rows = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class Upsert:
    """Rows to insert or update by their natural key (same columns each, unique by `key`).

    On conflict, `always` columns take the new value and `keep_if_missing` columns keep the
    stored one when the new one is NULL; any other column (first_seen_at) is left as it was.
    """

    table: Table
    rows: Rows
    key: tuple[str, ...]
    keep_if_missing: tuple[str, ...]
    always: tuple[str, ...]


async def bulk_upsert(session: AsyncSession, upsert: Upsert) -> dict[Key, int]:
    """Run `upsert` in the session's transaction; returns {key values: id}."""
    if not upsert.rows:
        return {}
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        ids: dict[Key, int] = {}
        for chunk in prepare_sqlite_upserts(dialect, upsert):
            ids.update(await sqlite_driver.run_in_turn(session, chunk.run))
        return ids
    stmt = _upsert_returning(
        dialect.name, upsert.table, upsert.key, upsert.keep_if_missing, upsert.always
    )
    return await _with_returning(session, stmt, upsert.rows)


# The statements below are built (and on SQLite compiled) once per table and column set: a
# search stores a few dozen posts, and building the upsert cost more than running it.


@functools.lru_cache(maxsize=64)
def _upsert(
    dialect_name: str,
    table: Table,
    key: tuple[str, ...],
    keep_if_missing: tuple[str, ...],
    always: tuple[str, ...],
) -> Any:
    ins = insert_for(dialect_name, table)
    excluded = ins.excluded
    update: dict[str, ColumnElement[Any]] = {
        name: func.coalesce(excluded[name], table.c[name]) for name in keep_if_missing
    }
    update.update({name: excluded[name] for name in always})
    return ins.on_conflict_do_update(index_elements=list(key), set_=update)


@functools.lru_cache(maxsize=64)
def _upsert_returning(
    dialect_name: str,
    table: Table,
    key: tuple[str, ...],
    keep_if_missing: tuple[str, ...],
    always: tuple[str, ...],
) -> Any:
    stmt = _upsert(dialect_name, table, key, keep_if_missing, always)
    return stmt.returning(table.c.id, *(table.c[name] for name in key))


async def _with_returning(session: AsyncSession, stmt: Any, rows: Rows) -> dict[Key, int]:
    """PostgreSQL: multi-row VALUES with RETURNING, one round trip per page."""
    ids: dict[Key, int] = {}
    for start in range(0, len(rows), CHUNK_ROWS):
        result = await session.execute(stmt, list(rows[start : start + CHUNK_ROWS]))
        for row_id, *key_values in result.all():
            ids[tuple(key_values)] = row_id
    return ids


@dataclass(frozen=True)
class SqlitePlan:
    """A statement compiled for SQLite: its SQL, and how to turn value dicts into its
    positional parameters (each column type's own bind processor: the same datetime text and
    JSON SQLAlchemy writes)."""

    sql: str
    read: Callable[[dict[str, Any]], tuple[Any, ...]]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
        read = self.read
        processors = [
            (index, _same_input_same_output(process)) for index, process in self.processors
        ]
        params: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(read(row))
            for index, process in processors:
                values[index] = process(values[index])
            params.append(tuple(values))
        return params


def _same_input_same_output(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Skip re-processing the very object just processed: a batch shares one `now` for
    first_seen_at/last_seen_at, and formatting it 200,000 times was a tenth of the work."""
    last_input: Any = object()
    last_output: Any = None

    def run(value: Any) -> Any:
        nonlocal last_input, last_output
        if value is not last_input:
            last_input, last_output = value, process(value)
        return last_output

    return run


def compile_for_sqlite(
    dialect: Dialect, table: Table, stmt: Any, columns: Sequence[str]
) -> SqlitePlan:
    """Compile `stmt` (an INSERT into `table` of `columns`) once, for the driver's own API."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    names = list(compiled.positiontup or ())
    read = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    processors = tuple(
        (index, process)
        for index, name in enumerate(names)
        if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    )
    return SqlitePlan(str(compiled), read, processors)


@functools.lru_cache(maxsize=64)
def _sqlite_plan(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    keep_if_missing: tuple[str, ...],
    always: tuple[str, ...],
) -> SqlitePlan:
    stmt = _upsert(dialect.name, table, key, keep_if_missing, always)
    return compile_for_sqlite(dialect, table, stmt, columns)


@dataclass(frozen=True)
class SqliteUpsert:
    """One chunk of an upsert, ready to run on aiosqlite's thread: its statement with every
    value already processed, then the lookups of the ids by key.

    The values are prepared on the event loop before the write turn is taken, and the
    statements run in one trip (see `sqlite_driver.run_in_turn`); what is skipped is
    SQLAlchemy's per-row statement bookkeeping, which cost more than SQLite itself. SQLite
    cannot RETURN rows from executemany, hence the key lookups.
    """

    sql: str
    params: list[tuple[Any, ...]]
    lookups: list[tuple[str, tuple[Any, ...], Key]]  # (sql, parameters, key prefix)

    def run(self, connection: sqlite3.Connection) -> dict[Key, int]:
        if self.params:
            connection.executemany(self.sql, self.params)
        ids: dict[Key, int] = {}
        for sql, parameters, prefix in self.lookups:
            for row_id, last in connection.execute(sql, parameters):
                ids[(*prefix, last)] = row_id
        return ids


def prepare_sqlite_upserts(dialect: Dialect, upsert: Upsert) -> Iterator[SqliteUpsert]:
    """`upsert`'s statements for SQLite, one per chunk of rows, each prepared when the previous
    one has been taken (which bounds memory)."""
    if not upsert.rows:
        return
    table, rows, key = upsert.table, upsert.rows, upsert.key
    plan = _sqlite_plan(dialect, table, tuple(rows[0]), key, upsert.keep_if_missing, upsert.always)
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        keys = [tuple(row[k] for k in key) for row in chunk]
        yield SqliteUpsert(plan.sql, plan.parameters(chunk), _id_lookups(dialect, table, keys, key))


def _id_lookups(
    dialect: Dialect, table: Table, keys: list[Key], key: Sequence[str]
) -> list[tuple[str, tuple[Any, ...], Key]]:
    """SQLite: the statements that find the ids of the rows with these keys: `a = ? AND b IN
    (...)`, which the unique index serves directly (a row-value `(a, b) IN (...)` is planned far
    worse by SQLite).

    Driver SQL compiled once per IN-list size (padded by repeating a key, see `_padded_size`):
    the ORM-level execute of an expanding IN cost more than the lookup itself.
    """
    groups: dict[Key, list[Any]] = defaultdict(list)
    for values in keys:
        groups[values[:-1]].append(values[-1])
    lookups: list[tuple[str, tuple[Any, ...], Key]] = []
    for prefix, lasts in groups.items():
        for start in range(0, len(lasts), _KEY_CHUNK):
            chunk = lasts[start : start + _KEY_CHUNK]
            size = _padded_size(len(chunk))
            padded = [*chunk, *([chunk[0]] * (size - len(chunk)))]
            lookups.append((_ids_sql(dialect, table, tuple(key), size), (*prefix, *padded), prefix))
    return lookups


def _padded_size(count: int) -> int:
    """A power of two up to 1024, then a multiple of 1024: few distinct statements to cache,
    and little padding for the big batches."""
    if count <= 1024:
        return 1 << (count - 1).bit_length()
    return -(-count // 1024) * 1024


@functools.lru_cache(maxsize=64)
def _ids_sql(dialect: Dialect, table: Table, key: tuple[str, ...], size: int) -> str:
    """`SELECT id, <last key column> WHERE <prefix columns> = ? .. AND <last> IN (? x size)`."""
    *prefix_names, last_name = key
    for name in key:  # the values are passed to the driver as they are
        assert table.c[name].type.dialect_impl(dialect).bind_processor(dialect) is None, name
    last_column = table.c[last_name]
    same_prefix = [table.c[name] == bindparam(f"k{i}") for i, name in enumerate(prefix_names)]
    stmt = select(table.c.id, last_column).where(
        *same_prefix, last_column.in_(bindparam("lasts", expanding=True))
    )
    values = {f"k{i}": "" for i in range(len(prefix_names))} | {"lasts": [""] * size}
    compiled = stmt.params(values).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    names = list(compiled.positiontup or ())
    expected = [f"k{i}" for i in range(len(prefix_names))]
    assert names[: len(expected)] == expected and len(names) == len(expected) + size, names
    return str(compiled)
