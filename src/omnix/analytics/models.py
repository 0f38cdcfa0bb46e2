"""Tables: stored analyses (``POST analyze``), read back by analysis history;
revenue targets set by managers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnix.db.base import Base


class StoredAnalysis(Base):
    __tablename__ = "analyses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    analyser_id: Mapped[str] = mapped_column(String(120))
    # Only purchases before this instant were read: histories stay comparable.
    data_cutoff: Mapped[datetime]
    computed_at: Mapped[datetime]
    confidence: Mapped[float]
    processing_ms: Mapped[float]
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    batch_id: Mapped[str | None] = mapped_column(String(64))


Index(
    "ix_analyses_customer_time", StoredAnalysis.customer_id, StoredAnalysis.computed_at
)


class RevenueTarget(Base):
    """A revenue target a manager set for one period of the revenue series.

    Targets are kept per granularity: a month's target says nothing about its
    weeks (they do not split evenly), so each view has its own.
    """

    __tablename__ = "revenue_targets"

    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)
    # The store-local calendar day the period starts on (Monday, 1st).
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    amount: Mapped[float]
    set_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
