"""Tables: A/B tests, their phases, and the predictions made under them.

A test's traffic split lives on its phases: changing the split of a running
test starts a new phase, and results are read per phase. Each analysis call
made under a test leaves one ``ab_test_calls`` row with what the analyser
predicted, so outcome metrics can be scored as later purchases arrive; what
the call cost and how long it took stays in the usage ledger
(``analysis_usage.experiment_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnix.customers.models import LineId
from omnix.db.base import Base


class ABTest(Base):
    __tablename__ = "ab_tests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    analysis_type: Mapped[str] = mapped_column(String(40))
    # Arm A is the control, arm B the candidate.
    model_a: Mapped[str] = mapped_column(String(120))
    model_b: Mapped[str] = mapped_column(String(120))
    # Business time (the clock's "now"), like the analyses the test assigns.
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    metrics: Mapped[list[str]] = mapped_column(JSON)
    primary_metric: Mapped[str] = mapped_column(String(40))
    outcome_window_days: Mapped[int]
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # Business time of the deactivation; the test is "paused" from then on.
    deactivated_at: Mapped[datetime | None]


class ABTestPhase(Base):
    """One stretch of a test with one traffic split."""

    __tablename__ = "ab_test_phases"

    test_id: Mapped[str] = mapped_column(
        ForeignKey("ab_tests.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # Share of customers assigned to arm B, in (0, 1).
    traffic_split: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]
    # Wall time of the start: ledger rows are stamped with wall time, so this
    # is what places a ledger row in its phase.
    started_wall: Mapped[datetime]


class ABTestCall(Base):
    """One analysis answered under a test, with what it predicted."""

    __tablename__ = "ab_test_calls"

    id: Mapped[int] = mapped_column(LineId, primary_key=True, autoincrement=True)
    test_id: Mapped[str] = mapped_column(ForeignKey("ab_tests.id", ondelete="CASCADE"))
    phase: Mapped[int]
    arm: Mapped[str] = mapped_column(String(1))
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    assigned_model: Mapped[str] = mapped_column(String(120))
    # The local engine when the assigned analyser failed and was stood in for.
    answered_by: Mapped[str] = mapped_column(String(120))
    # The business instant the analysis read history up to; outcomes are the
    # purchases after it.
    data_cutoff: Mapped[datetime]
    called_at: Mapped[datetime]
    # {product id: predicted next purchase date (ISO)}; None when the
    # analysis type predicts no dates.
    predicted_dates: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Recommended product ids in rank order; None when none were asked for.
    recommended: Mapped[list[str] | None] = mapped_column(JSON)


Index("ix_ab_test_calls_phase", ABTestCall.test_id, ABTestCall.phase)
Index("ix_ab_tests_type", ABTest.analysis_type, ABTest.start_at)
