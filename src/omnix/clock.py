"""The one source of "now".

Business time (``now``) may be pinned with ``OMNIX_AS_OF`` so analytics read a
historical data set as if it were current; token lifetimes and audit stamps use
``wall`` time, which is never pinned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, pinned: datetime | None = None, timezone: str = "UTC") -> None:
        if pinned is not None and pinned.tzinfo is None:
            raise ValueError("a pinned instant needs a UTC offset")
        self._pinned = pinned.astimezone(UTC) if pinned else None
        self.timezone = ZoneInfo(timezone)

    @classmethod
    def from_setting(cls, as_of: str | None, timezone: str = "UTC") -> Clock:
        if not as_of:
            return cls(None, timezone)
        instant = datetime.fromisoformat(as_of)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return cls(instant, timezone)

    @property
    def pinned(self) -> datetime | None:
        return self._pinned

    def now(self) -> datetime:
        """Business "now": the pinned instant, or the real time."""
        return self._pinned or datetime.now(UTC)

    @staticmethod
    def wall() -> datetime:
        """The real time, for token expiry and audit stamps."""
        return datetime.now(UTC)

    def today(self) -> date:
        """The store's calendar date at business "now"."""
        return self.now().astimezone(self.timezone).date()

    def pin(self, instant: datetime) -> Clock:
        return Clock(instant, str(self.timezone))

    def days_ago(self, days: float) -> datetime:
        return self.now() - timedelta(days=days)
