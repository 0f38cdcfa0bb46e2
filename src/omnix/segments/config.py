"""Segment settings, read from ``OMNIX_SEGMENT_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnix.context import AppContext
from omnix.engine.rfm import DEFAULT_NEW_CUSTOMER_DAYS


class SegmentSettings(BaseSettings):
    """How and how often segments are computed."""

    model_config = SettingsConfigDict(env_prefix="OMNIX_SEGMENT_", extra="ignore")

    # Minutes between scheduled recomputations inside ``omnix serve``; unset
    # (the default) means no schedule.
    recompute_minutes: float | None = Field(default=None, gt=0)
    new_customer_days: int = Field(default=DEFAULT_NEW_CUSTOMER_DAYS, ge=0, le=365)
    # Window of "recent" purchases behind segment-based recommendations.
    recommendation_window_days: int = Field(default=90, ge=1, le=730)


def segment_settings(context: AppContext) -> SegmentSettings:
    """The settings of this process, read once and kept on the context."""
    settings = context.extras.get("segment_settings")
    if not isinstance(settings, SegmentSettings):
        settings = SegmentSettings()
        context.extras["segment_settings"] = settings
    return settings
