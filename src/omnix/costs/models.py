"""Table: one ledger row per analysis call.

A call that failed and was answered by the fallback engine writes two rows:
the failed one (with the tokens the provider billed anyway) and the
fallback's, whose ``fallback_for`` names the analyser it stood in for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnix.customers.models import LineId
from omnix.db.base import Base


class AnalysisUsage(Base):
    __tablename__ = "analysis_usage"

    id: Mapped[int] = mapped_column(LineId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE")
    )
    analyser_id: Mapped[str] = mapped_column(String(120))
    # What the provider was asked for (and billed), e.g. a Bedrock model id.
    provider_model_id: Mapped[str | None] = mapped_column(String(200))
    analysis_type: Mapped[str] = mapped_column(String(40))
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    cached_tokens: Mapped[int] = mapped_column(default=0)
    # None when the analyser has no known price: unpriced, never free.
    cost_usd: Mapped[float | None]
    unpriced: Mapped[bool] = mapped_column(default=False)
    price_version: Mapped[str | None] = mapped_column(String(100))
    latency_ms: Mapped[float]
    success: Mapped[bool]
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(500))
    fallback_for: Mapped[str | None] = mapped_column(
        String(120), doc="The analyser whose failure this call stood in for."
    )
    confidence: Mapped[float | None]
    experiment_id: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


Index("ix_analysis_usage_created", AnalysisUsage.created_at)
Index("ix_analysis_usage_customer", AnalysisUsage.customer_id, AnalysisUsage.created_at)
