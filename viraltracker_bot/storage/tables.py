"""The database schema: one SQLAlchemy table class per thing the product remembers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[Any]: JSON}  # noqa: RUF012


class PostRow(Base):
    """A post seen on a platform; upserted by (platform, platform_id), never duplicated."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "platform_id", name="uq_posts_platform_id"),
        Index("ix_posts_platform_posted_at", "platform", "posted_at"),
        Index("ix_posts_platform_views", "platform", "views"),
        Index("ix_posts_author", "platform", "author"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str] = mapped_column(String(128))
    author: Mapped[str | None] = mapped_column(String(255))
    author_name: Mapped[str | None] = mapped_column(String(255))
    author_followers: Mapped[int | None] = mapped_column(BigInteger)
    author_verified: Mapped[bool | None] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text)
    views: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_short: Mapped[bool | None] = mapped_column(Boolean)
    duration_s: Mapped[float | None] = mapped_column(Float)
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AdRow(Base):
    """A Facebook Ad Library entry; upserted by ad_id."""

    __tablename__ = "ads"
    __table_args__ = (Index("ix_ads_page", "page_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ad_id: Mapped[str] = mapped_column(String(128), unique=True)
    page_id: Mapped[str | None] = mapped_column(String(128))
    page_name: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool | None] = mapped_column(Boolean)
    start_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    publisher_platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    currency: Mapped[str | None] = mapped_column(String(8))
    spend_lower: Mapped[int | None] = mapped_column(BigInteger)
    spend_upper: Mapped[int | None] = mapped_column(BigInteger)
    impressions_lower: Mapped[int | None] = mapped_column(BigInteger)
    impressions_upper: Mapped[int | None] = mapped_column(BigInteger)
    creative_text: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str | None] = mapped_column(Text)
    cta_text: Mapped[str | None] = mapped_column(String(255))
    link_url: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    display_format: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class QueryRow(Base):
    """One platform query that ran (an actor run or a sandbox run); the actor result cache.

    `cache_key` hashes the actor ID and its exact run input, so an identical search inside the
    TTL is answered from the posts linked to the newest matching row, and starts no actor run.
    """

    __tablename__ = "queries"
    __table_args__ = (Index("ix_queries_cache_key_created", "cache_key", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cache_key: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(255))
    run_input: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[str | None] = mapped_column(String(64))
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PostQueryRow(Base):
    """Which query found which post (or ad), in the order the platform returned them."""

    __tablename__ = "post_queries"
    __table_args__ = (
        Index("ix_post_queries_query", "query_id"),
        Index("ix_post_queries_post", "post_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("queries.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    ad_id: Mapped[int | None] = mapped_column(ForeignKey("ads.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SessionRow(Base):
    """A conversation's memory: its ResultCache and bounded message history, as JSON."""

    __tablename__ = "sessions"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    result_cache: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProcessedEventRow(Base):
    """A chat event (Slack channel+ts, Discord interaction id) claimed for exactly one answer."""

    __tablename__ = "processed_events"
    __table_args__ = (
        # The inbox: a conversation's messages in order, and the sweep for abandoned leases.
        Index("ix_processed_events_conversation", "conversation_key", "created_at"),
        Index("ix_processed_events_status_lease", "status", "lease_until"),
    )

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    conversation_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UsageCounterRow(Base):
    """A fixed-window counter (one person's messages this minute), shared by every replica.

    One row per scope, holding its newest window: a new window restarts the count in the same
    row, so nothing older is ever left to clear.
    """

    __tablename__ = "usage_counters"

    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer, default=0)


class ScheduleRow(Base):
    """A digest: a saved query posted to a channel on a cron schedule."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_due", "enabled", "next_run_at"),
        Index("ix_schedules_workspace", "workspace"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cron: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    channel: Mapped[str] = mapped_column(String(255))
    workspace: Mapped[str | None] = mapped_column(String(128))  # Slack team / Discord guild
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    seen_post_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgentRunRow(Base):
    """One agent run: who ran, which tools, how long, what it cost, how it ended."""

    __tablename__ = "agent_runs"
    __table_args__ = (
        Index("ix_agent_runs_agent_started", "agent", "started_at"),
        Index("ix_agent_runs_workspace_started", "workspace", "started_at"),  # daily budgets
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(64))
    conversation_key: Mapped[str | None] = mapped_column(String(255))
    workspace: Mapped[str | None] = mapped_column(String(128))
    tools: Mapped[list[Any]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    actor_runs: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
