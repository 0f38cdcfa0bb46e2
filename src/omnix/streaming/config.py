"""Streaming settings, read from ``OMNIX_STREAMING_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnix.context import AppContext
from omnix.streaming.bus import DEFAULT_GROUP

# A consumer whose metric snapshot is older than this is not listed as live.
CONSUMER_LIVE_FOR = timedelta(seconds=60)


class StreamingSettings(BaseSettings):
    """How events are accepted, relayed and turned into insights."""

    model_config = SettingsConfigDict(env_prefix="OMNIX_STREAMING_", extra="ignore")

    # The stream every event goes to, and the consumer group producing insights.
    stream: str = Field(default="customer-events", pattern=r"^[A-Za-z0-9][\w.\-]*$")
    group: str = DEFAULT_GROUP
    # Prefix of every Redis key (the bus's streams and the insight channel).
    key_prefix: str = "omnix:"
    # Entries kept per stream (Redis trims approximately).
    max_length: int = Field(default=500_000, ge=1_000)
    # Events per POST /events/batch; more is a 413.
    max_batch_events: int = Field(default=1_000, ge=1, le=10_000)
    # Entries a consumer reads and applies in one transaction.
    consumer_batch_size: int = Field(default=500, ge=1, le=5_000)
    claim_idle_ms: int = Field(default=30_000, ge=10)
    max_deliveries: int = Field(default=5, ge=1, le=100)
    # An event older than the stream's watermark (the latest event time
    # processed) by more than this is late: stored and counted, no insight.
    allowed_lateness_s: float = Field(default=3_600.0, ge=0)
    # How long a single-event request waits for its own insights.
    response_wait_ms: int = Field(default=1_000, ge=0, le=10_000)
    # Giving up on the bus for one request (the outbox relays later).
    publish_timeout_s: float = Field(default=2.0, gt=0, le=30)
    # Outbox relay: how often, and how old an unrelayed event must be before
    # the relay takes it (younger ones are the accepting request's own job).
    relay_interval_s: float = Field(default=2.0, gt=0)
    relay_grace_s: float = Field(default=5.0, ge=0)
    # Events published this long ago, still unprocessed while the stream has
    # nothing pending nor unread, were lost by the bus and are published again.
    republish_after_s: float = Field(default=120.0, gt=0)
    # How often the timer looks for products that became due.
    due_check_s: float = Field(default=60.0, gt=0)
    # Customer features are rebuilt from the purchases table after this long,
    # picking up lines that arrived by other paths (imports, the API).
    state_refresh_hours: float = Field(default=24.0, gt=0)
    # Households whose purchase lines a consumer keeps in memory between
    # batches (streaming.history); 0 reads them from the database every batch.
    history_cache_households: int = Field(default=5_000, ge=0)
    # Run the insight consumer inside ``omnix serve``. Unset: yes without
    # Redis (embedded), no with Redis (``omnix worker`` processes do it).
    consume_in_serve: bool | None = None
    # recommendation_update needs the population's basket partners: the
    # consumers fit (or reuse) the analytics population models at start.
    partner_suggestions: bool = True
    # Consumer-metric snapshots written for GET /stream/metrics.
    metrics_interval_s: float = Field(default=5.0, gt=0)


def streaming_settings(context: AppContext) -> StreamingSettings:
    """The settings of this process, read once and kept on the context."""
    settings = context.extras.get("streaming_settings")
    if not isinstance(settings, StreamingSettings):
        settings = StreamingSettings()
        context.extras["streaming_settings"] = settings
    return settings
