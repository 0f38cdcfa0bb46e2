"""From per-customer values to the comparisons of an A/B test result.

Everything here works on a frame of *units*, one row per customer and arm
(see ``UNIT_SCHEMA``): sufficient statistics are aggregated per arm in one
vectorised pass (optionally per extra group, which is how the simulation
tests run thousands of experiments at once), then handed to the tests of
``omnix.engine.experiment_stats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from omnix.engine.experiment_stats import (
    ComparisonResult,
    ProportionStats,
    SampleStats,
    decide,
    sample_ratio_mismatch,
    two_proportion_z_test,
    welch_t_test,
)
from omnix.experiments.metrics import METRICS, MetricSpec
from omnix.experiments.schemas import (
    ArmSummary,
    MetricComparison,
    ModelPerformanceMetrics,
    SampleRatioInfo,
)

ALPHA = 0.05
UNIT_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "arm": pl.Utf8,
    "calls": pl.Int64,
    "success": pl.Float64,
    "latency_ms": pl.Float64,
    "confidence": pl.Float64,
    "token_cost": pl.Float64,
    "date_error_days": pl.Float64,
    "hit_share": pl.Float64,
    "any_hit": pl.Float64,
}
# What the ledger rows of one phase look like once each is given its arm.
CALL_SCHEMA: dict[str, Any] = {
    "customer_id": pl.Utf8,
    "arm": pl.Utf8,
    "primary": pl.Boolean,
    "success": pl.Boolean,
    "latency_ms": pl.Float64,
    "confidence": pl.Float64,
    "cost_usd": pl.Float64,
    "unpriced": pl.Boolean,
}

ArmStats = SampleStats | ProportionStats


def arm_statistics(
    units: pl.DataFrame, columns: Sequence[str], by: Sequence[str] = ()
) -> pl.DataFrame:
    """n, total and sum of squares of each column per arm (and per ``by``).

    Nulls are "no value for this customer" and are left out of that column's
    n. The result has columns ``{column}__n``, ``__total`` and ``__ss``.
    """
    aggregations = []
    for column in columns:
        value = pl.col(column).cast(pl.Float64)
        aggregations += [
            value.count().alias(f"{column}__n"),
            value.sum().alias(f"{column}__total"),
            (value * value).sum().alias(f"{column}__ss"),
        ]
    return units.group_by([*by, "arm"], maintain_order=True).agg(aggregations)


def stats_of(spec: MetricSpec, row: dict[str, Any] | None) -> ArmStats:
    """One arm's sufficient statistics for ``spec`` from an ``arm_statistics`` row."""
    n = int(row[f"{spec.column}__n"]) if row else 0
    total = float(row[f"{spec.column}__total"] or 0.0) if row else 0.0
    if spec.kind == "rate":
        return ProportionStats(n=n, successes=round(total))
    sum_squares = float(row[f"{spec.column}__ss"] or 0.0) if row else 0.0
    return SampleStats(n=n, total=total, sum_squares=sum_squares)


def _summary(spec: MetricSpec, arm: ArmStats) -> ArmSummary:
    if arm.n == 0:
        return ArmSummary(n=0, mean=None, variance=None)
    # A sample variance needs two values; a rate's p(1 - p) needs one.
    enough = arm.n >= 2 or spec.kind == "rate"
    return ArmSummary(n=arm.n, mean=arm.mean, variance=arm.variance if enough else None)


def compare_metric(
    spec: MetricSpec, a: ArmStats, b: ArmStats, *, alpha: float = ALPHA
) -> MetricComparison:
    """Model B against model A on ``spec``: Welch for a mean, z for a rate."""
    absolute: ComparisonResult
    relative: ComparisonResult
    if spec.kind == "rate":
        if not isinstance(a, ProportionStats) or not isinstance(b, ProportionStats):
            raise ValueError(f"{spec.id} is a rate: pass ProportionStats")
        absolute = two_proportion_z_test(a, b, alpha=alpha)
        relative = two_proportion_z_test(a, b, relative=True, alpha=alpha)
    else:
        absolute = welch_t_test(a, b, alpha=alpha)
        relative = welch_t_test(a, b, relative=True, alpha=alpha)
    decision = decide(absolute, alpha=alpha, higher_is_better=spec.higher_is_better)
    return MetricComparison(
        metric=spec.id,
        label=spec.label,
        kind=spec.kind,
        unit=spec.unit,
        higher_is_better=spec.higher_is_better,
        test=absolute.test,
        status=absolute.status,
        reason=absolute.reason,
        model_a=_summary(spec, a),
        model_b=_summary(spec, b),
        difference=absolute.estimate,
        ci_low=absolute.ci_low,
        ci_high=absolute.ci_high,
        p_value=absolute.p_value,
        relative_uplift=relative.estimate,
        relative_ci_low=relative.ci_low,
        relative_ci_high=relative.ci_high,
        winner=decision.winner,
        significant=decision.significant,
    )


def compare_units(
    units: pl.DataFrame, metric_ids: Sequence[str], *, alpha: float = ALPHA
) -> list[MetricComparison]:
    """Every requested metric compared on one phase's units."""
    specs = [METRICS[m] for m in metric_ids]
    table = arm_statistics(units, sorted({s.column for s in specs}))
    rows = {row["arm"]: row for row in table.iter_rows(named=True)}
    a, b = rows.get("A"), rows.get("B")
    return [
        compare_metric(spec, stats_of(spec, a), stats_of(spec, b), alpha=alpha)
        for spec in specs
    ]


def sample_ratio(customers_a: int, customers_b: int, split: float) -> SampleRatioInfo:
    """Customers per arm against the split (B's share), Pearson chi-squared."""
    check = sample_ratio_mismatch([customers_a, customers_b], [1.0 - split, split])
    return SampleRatioInfo(
        status=check.status,
        reason=check.reason,
        observed=list(check.observed),
        expected=[round(e, 4) for e in check.expected],
        p_value=check.p_value,
        mismatch=check.mismatch,
        threshold=check.threshold,
    )


def call_units(calls: pl.DataFrame) -> pl.DataFrame:
    """Per customer and arm: calls, all succeeded, mean latency/confidence/cost.

    Only each call's own row counts (a fallback row describes the local
    engine that stood in, not the arm's model). A customer with any unpriced
    call has an unknown cost, not a lower one.
    """
    own = calls.filter(pl.col("primary"))
    return own.group_by(["customer_id", "arm"], maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("calls"),
        pl.col("success").all().cast(pl.Float64).alias("success"),
        pl.col("latency_ms").mean().alias("latency_ms"),
        pl.col("confidence").mean().alias("confidence"),
        pl.when(pl.col("unpriced").any())
        .then(None)
        .otherwise(pl.col("cost_usd").mean())
        .alias("token_cost"),
    )


def performance(calls: pl.DataFrame, arm: str) -> ModelPerformanceMetrics:
    """Descriptive per-call figures of one arm (every call weighs the same)."""
    mine = calls.filter(pl.col("arm") == arm)
    own = mine.filter(pl.col("primary")).with_columns(
        pl.col("success").cast(pl.Float64)
    )
    priced = own.filter(~pl.col("unpriced"))

    def mean(frame: pl.DataFrame, column: str) -> float | None:
        value = frame.get_column(column).drop_nulls().mean() if frame.height else None
        return None if value is None else round(float(value), 6)  # type: ignore[arg-type]

    return ModelPerformanceMetrics(
        total_requests=own.height,
        customers=own.get_column("customer_id").n_unique() if own.height else 0,
        success_rate=mean(own, "success"),
        average_processing_time=mean(own, "latency_ms"),
        average_confidence=mean(own, "confidence"),
        average_token_cost=mean(priced, "cost_usd"),
        unpriced_requests=own.height - priced.height,
        fallback_requests=mine.height - own.height,
    )  # fmt: skip


def units_frame(calls: pl.DataFrame, outcomes: pl.DataFrame) -> pl.DataFrame:
    """Call units joined with outcome units; either side may lack a customer."""
    merged = call_units(calls).join(
        outcomes, on=["customer_id", "arm"], how="full", coalesce=True
    )
    missing = [
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in UNIT_SCHEMA.items()
        if name not in merged.columns
    ]
    return (
        merged.with_columns(missing)
        .select([pl.col(n).cast(t) for n, t in UNIT_SCHEMA.items()])
        .with_columns(pl.col("calls").fill_null(0))
        .sort(["arm", "customer_id"])
    )
