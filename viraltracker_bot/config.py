"""Settings: every token, URL and limit the bot reads from the environment (and `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(*names: str) -> AliasChoices:
    """Each setting answers to its documented variable name (and its field name in code)."""
    return AliasChoices(*names)


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """The one global object: built once per process and handed down explicitly."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- storage and files -------------------------------------------------------------------
    database_url: str = Field(
        "sqlite+aiosqlite:///./viraltracker.db",
        validation_alias=_env("VIRALTRACKER_DATABASE_URL", "database_url"),
    )
    export_dir: Path = Field(
        Path("./exports"), validation_alias=_env("VIRALTRACKER_EXPORT_DIR", "export_dir")
    )
    # Export, chart and digest files are uploaded with their reply and never read again: files
    # the bot wrote there are deleted once older than this many days (at start, then hourly).
    # 0 keeps them forever.
    export_retention_days: float = Field(
        7.0,
        ge=0,
        validation_alias=_env("VIRALTRACKER_EXPORT_RETENTION_DAYS", "export_retention_days"),
    )

    # --- models ------------------------------------------------------------------------------
    model: str = Field(
        "anthropic:claude-sonnet-4-5", validation_alias=_env("VIRALTRACKER_MODEL", "model")
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=_env("ANTHROPIC_API_KEY", "anthropic_api_key")
    )

    # --- Apify -------------------------------------------------------------------------------
    apify_token: SecretStr | None = Field(None, validation_alias=_env("APIFY_TOKEN", "apify_token"))
    apify_api_base_url: str = Field(
        "https://api.apify.com",
        validation_alias=_env("APIFY_API_BASE_URL", "apify_api_base_url"),
    )
    twitter_actor: str = Field(
        "apidojo/tweet-scraper",
        validation_alias=_env("VIRALTRACKER_TWITTER_ACTOR", "twitter_actor"),
    )
    tiktok_actor: str = Field(
        "clockworks/tiktok-scraper",
        validation_alias=_env("VIRALTRACKER_TIKTOK_ACTOR", "tiktok_actor"),
    )
    youtube_actor: str = Field(
        "streamers/youtube-scraper",
        validation_alias=_env("VIRALTRACKER_YOUTUBE_ACTOR", "youtube_actor"),
    )
    facebook_ads_actor: str = Field(
        "curious_coder/facebook-ads-library-scraper",
        validation_alias=_env("VIRALTRACKER_FACEBOOK_ADS_ACTOR", "facebook_ads_actor"),
    )
    apify_run_timeout_s: float = Field(
        300.0, validation_alias=_env("VIRALTRACKER_APIFY_RUN_TIMEOUT_S", "apify_run_timeout_s")
    )
    apify_max_retries: int = Field(
        3, validation_alias=_env("VIRALTRACKER_APIFY_MAX_RETRIES", "apify_max_retries")
    )
    apify_retry_base_delay_s: float = Field(
        0.5, validation_alias=_env("VIRALTRACKER_APIFY_RETRY_DELAY_S", "apify_retry_base_delay_s")
    )
    apify_cache_ttl_s: float = Field(
        900.0, validation_alias=_env("VIRALTRACKER_APIFY_CACHE_TTL_S", "apify_cache_ttl_s")
    )
    max_items_per_run: int = Field(
        1000, validation_alias=_env("VIRALTRACKER_MAX_ITEMS_PER_RUN", "max_items_per_run")
    )

    # --- viral defaults (overridable per request) ----------------------------------------------
    viral_min_views: int = Field(
        100_000, validation_alias=_env("VIRALTRACKER_VIRAL_MIN_VIEWS", "viral_min_views")
    )
    micro_max_followers: int = Field(
        50_000, validation_alias=_env("VIRALTRACKER_MICRO_MAX_FOLLOWERS", "micro_max_followers")
    )

    # --- per-message limits ------------------------------------------------------------------
    max_model_requests_per_message: int = Field(
        12,
        validation_alias=_env("VIRALTRACKER_MAX_MODEL_REQUESTS", "max_model_requests_per_message"),
    )
    max_tokens_per_message: int = Field(
        200_000, validation_alias=_env("VIRALTRACKER_MAX_TOKENS", "max_tokens_per_message")
    )
    max_actor_runs_per_message: int = Field(
        6, validation_alias=_env("VIRALTRACKER_MAX_ACTOR_RUNS", "max_actor_runs_per_message")
    )
    max_message_chars: int = Field(
        4000, validation_alias=_env("VIRALTRACKER_MAX_MESSAGE_CHARS", "max_message_chars")
    )
    session_history_messages: int = Field(
        40, validation_alias=_env("VIRALTRACKER_SESSION_HISTORY", "session_history_messages")
    )

    # --- Slack -------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_BOT_TOKEN", "slack_bot_token")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET", "slack_signing_secret")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_APP_TOKEN", "slack_app_token")
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=_env("SLACK_API_URL", "slack_api_url")
    )
    slack_allowed_teams: CsvList = Field(
        default_factory=list,
        validation_alias=_env("VIRALTRACKER_SLACK_ALLOWED_TEAMS", "slack_allowed_teams"),
    )
    slack_allowed_channels: CsvList = Field(
        default_factory=list,
        validation_alias=_env("VIRALTRACKER_SLACK_ALLOWED_CHANNELS", "slack_allowed_channels"),
    )
    slack_allowed_users: CsvList = Field(
        default_factory=list,
        validation_alias=_env("VIRALTRACKER_SLACK_ALLOWED_USERS", "slack_allowed_users"),
    )
    slack_rate_limit_retries: int = Field(
        5, validation_alias=_env("VIRALTRACKER_SLACK_429_RETRIES", "slack_rate_limit_retries")
    )

    # --- Discord -----------------------------------------------------------------------------
    discord_token: SecretStr | None = Field(
        None, validation_alias=_env("DISCORD_TOKEN", "discord_token")
    )
    discord_api_url: str = Field(
        "https://discord.com/api/v10", validation_alias=_env("DISCORD_API_URL", "discord_api_url")
    )
    discord_gateway_url: str = Field(
        "wss://gateway.discord.gg/",
        validation_alias=_env("DISCORD_GATEWAY_URL", "discord_gateway_url"),
    )
    discord_allowed_guilds: CsvList = Field(
        default_factory=list,
        validation_alias=_env("VIRALTRACKER_DISCORD_ALLOWED_GUILDS", "discord_allowed_guilds"),
    )
    discord_allowed_channels: CsvList = Field(
        default_factory=list,
        validation_alias=_env("VIRALTRACKER_DISCORD_ALLOWED_CHANNELS", "discord_allowed_channels"),
    )
    # Privileged intent (enable it in the developer portal too): plain follow-ups in the bot's
    # threads, not only messages that mention it.
    discord_message_content: bool = Field(
        False, validation_alias=_env("DISCORD_MESSAGE_CONTENT", "discord_message_content")
    )
    # 0: one gateway connection (a plain Client); N: N shards in this process (AutoShardedClient).
    discord_shard_count: int = Field(
        0, ge=0, validation_alias=_env("DISCORD_SHARD_COUNT", "discord_shard_count")
    )

    # --- digests -----------------------------------------------------------------------------
    # Seconds between looks for due digests inside the Slack and Discord processes; 0 turns
    # that runner off (then run `viraltracker-bot digests run` as its own process).
    digest_poll_s: float = Field(
        30.0, ge=0, validation_alias=_env("VIRALTRACKER_DIGEST_POLL_S", "digest_poll_s")
    )
    # The shortest time between two runs of one digest. Each run may start an actor (paid), and
    # one more often than the search cache lasts (15 minutes) only posts the same results again.
    digest_min_interval_s: float = Field(
        900.0,
        ge=0,
        validation_alias=_env("VIRALTRACKER_DIGEST_MIN_INTERVAL_S", "digest_min_interval_s"),
    )

    # --- reliability: the durable inbox, replicas -------------------------------------------
    # A message is stored before Slack is told it arrived, then worked under a lease that the
    # worker renews; when a process dies, another (or its restart) takes the message over once
    # the lease runs out, or at once when it is the same replica restarting.
    inbox_lease_s: float = Field(
        60.0, gt=0, validation_alias=_env("VIRALTRACKER_INBOX_LEASE_S", "inbox_lease_s")
    )
    inbox_sweep_s: float = Field(
        5.0, gt=0, validation_alias=_env("VIRALTRACKER_INBOX_SWEEP_S", "inbox_sweep_s")
    )
    inbox_max_attempts: int = Field(
        5, ge=1, validation_alias=_env("VIRALTRACKER_INBOX_MAX_ATTEMPTS", "inbox_max_attempts")
    )
    # How many messages one process answers at once. An answer mostly waits (on the model, on
    # actors that run for tens of seconds), so this is far above the cores; beyond it, messages
    # stay stored and wait for a slot (or for another replica).
    max_concurrent_answers: int = Field(
        256,
        ge=1,
        validation_alias=_env("VIRALTRACKER_MAX_CONCURRENT_ANSWERS", "max_concurrent_answers"),
    )
    # Which replica this is, stable across its restarts (unset: host name and PORT).
    replica_id: str | None = Field(
        None, validation_alias=_env("VIRALTRACKER_REPLICA_ID", "replica_id")
    )

    # --- limits and access (shared by every replica: counted in the database) ---------------
    user_messages_per_minute: int = Field(
        10,
        ge=0,
        validation_alias=_env("VIRALTRACKER_USER_MESSAGES_PER_MINUTE", "user_messages_per_minute"),
    )
    daily_actor_runs_per_workspace: int = Field(
        200,
        ge=0,
        validation_alias=_env("VIRALTRACKER_DAILY_ACTOR_RUNS", "daily_actor_runs_per_workspace"),
    )
    daily_model_tokens_per_workspace: int = Field(
        2_000_000,
        ge=0,
        validation_alias=_env(
            "VIRALTRACKER_DAILY_MODEL_TOKENS", "daily_model_tokens_per_workspace"
        ),
    )
    # Who may add, pause or remove digests from chat: user ids (`U0123`, `slack:U0123`,
    # `discord:1234`). Empty: everyone may.
    admin_users: CsvList = Field(
        default_factory=list, validation_alias=_env("VIRALTRACKER_ADMIN_USERS", "admin_users")
    )

    # --- HTTP --------------------------------------------------------------------------------
    port: int = Field(3000, validation_alias=_env("PORT", "port"))
    # What the bot processes log to stderr (DEBUG shows every Web API call; tokens never appear).
    log_level: str = Field("INFO", validation_alias=_env("VIRALTRACKER_LOG_LEVEL", "log_level"))

    @field_validator(
        "slack_allowed_teams",
        "slack_allowed_channels",
        "slack_allowed_users",
        "discord_allowed_guilds",
        "discord_allowed_channels",
        "admin_users",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        """Lists come from the environment as `A,B,C`."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def sandbox(self) -> bool:
        """No Apify token: platform searches are served by the offline sandbox."""
        return self.apify_token is None

    @property
    def offline_model(self) -> bool:
        """No Anthropic key: the offline keyword router stands in for the LLM."""
        return self.anthropic_api_key is None and self.model.startswith("anthropic:")

    def mode_banner(self) -> str:
        """One line telling the user what is real and what is offline."""
        data = "sandbox data (no APIFY_TOKEN)" if self.sandbox else "live Apify data"
        brain = "offline router (no ANTHROPIC_API_KEY)" if self.offline_model else self.model
        return f"viraltracker-bot: {data}; model: {brain}; database: {self.safe_database_url}"

    @property
    def safe_database_url(self) -> str:
        """The database URL with any password masked, for logs and banners."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.database_url).render_as_string(hide_password=True)
        except Exception:
            return "<unparseable database URL>"
