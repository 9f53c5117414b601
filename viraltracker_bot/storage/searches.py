"""Storing one search: the posts and ads it found, the run that found them, and the links."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from viraltracker_bot.platforms.models import Ad, Post
from viraltracker_bot.storage import sqlite_driver
from viraltracker_bot.storage.bulk import (
    Key,
    SqliteUpsert,
    Upsert,
    bulk_upsert,
    prepare_sqlite_upserts,
)
from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.posts import ads_upsert, posts_upsert
from viraltracker_bot.storage.queries import RecordedRun, prepare_sqlite_record, record_query


async def store_search(
    db: Database, run: RecordedRun, posts: Sequence[Post], ads: Sequence[Ad]
) -> int:
    """Upsert the posts and ads, record the run and link what it found, in one transaction;
    returns the run's id.

    On SQLite it is all one trip to the driver's thread, commit included, every value prepared
    before: this is the biggest write of an answer (fifty posts with their raw items), and as
    five round trips through a busy event loop it held SQLite's one writer several times longer
    than SQLite worked, with every other write of the process waiting.
    """
    post_upsert, post_keys = posts_upsert(posts)
    ad_upsert, ad_keys = ads_upsert(ads)
    async with db.transaction() as session:
        if not db.is_sqlite:
            post_ids = await bulk_upsert(session, post_upsert)
            ad_ids = await bulk_upsert(session, ad_upsert)
            return await record_query(
                session, run, [post_ids[k] for k in post_keys], [ad_ids[k] for k in ad_keys]
            )
        return await _store_on_sqlite(session, run, post_upsert, post_keys, ad_upsert, ad_keys)


async def _store_on_sqlite(
    session: AsyncSession,
    run: RecordedRun,
    post_upsert: Upsert,
    post_keys: list[Key],
    ad_upsert: Upsert,
    ad_keys: list[Key],
) -> int:
    dialect = session.get_bind().dialect
    post_chunks = list(prepare_sqlite_upserts(dialect, post_upsert))
    ad_chunks = list(prepare_sqlite_upserts(dialect, ad_upsert))
    record = prepare_sqlite_record(dialect, run)

    def write(connection: sqlite3.Connection) -> int:
        post_ids = _ids(connection, post_chunks)
        ad_ids = _ids(connection, ad_chunks)
        return record.run(
            connection, [post_ids[k] for k in post_keys], [ad_ids[k] for k in ad_keys]
        )

    return await sqlite_driver.run_in_turn(session, write, commit=True)


def _ids(connection: sqlite3.Connection, chunks: list[SqliteUpsert]) -> dict[Key, int]:
    ids: dict[Key, int] = {}
    for chunk in chunks:
        ids.update(chunk.run(connection))
    return ids
