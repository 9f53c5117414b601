"""Processed chat events: claiming an event id so exactly one process answers it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from viraltracker_bot.storage.database import Database
from viraltracker_bot.storage.dialects import upsert_insert
from viraltracker_bot.storage.tables import ProcessedEventRow


async def claim_event(
    db: Database, event_id: str, source: str, conversation_key: str | None = None
) -> bool:
    """True the first time an event id is claimed, False on every retry or duplicate delivery.

    The primary key decides, in its own committed transaction, so it holds across processes:
    on PostgreSQL a concurrent claimer waits on the first one's row and then finds it there.
    `ON CONFLICT DO NOTHING` keeps the loser quiet (no error logged by the server); the
    IntegrityError branch covers any path where the conflict still surfaces as an error.
    """
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            ins = upsert_insert(session, ProcessedEventRow.__table__).values(
                event_id=event_id,
                source=source,
                conversation_key=conversation_key,
                status="claimed",
                created_at=now,
                updated_at=now,
            )
            stmt = ins.on_conflict_do_nothing(index_elements=["event_id"]).returning(
                ProcessedEventRow.event_id
            )
            claimed = (await session.execute(stmt)).first() is not None
    except IntegrityError:
        return False
    return claimed
