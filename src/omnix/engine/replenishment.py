"""Replenishment: which products will a household buy again within a horizon?

For every (customer, product) pair the engine estimates the probability that
the customer buys the product again within ``horizon_days`` of the clock, and
raises an alert when that probability clears a threshold learned for the
horizon. The probability comes from a logistic regression
(:mod:`omnix.engine.logistic`) over features of the pair's rhythm (the
log-normal outlook of :mod:`omnix.engine.consumption`, the empirical share of
past intervals that ended inside the horizon given the time already elapsed,
counts and regularity), of the household (shopping frequency, recent visits)
and of the product in the population (how often its buyers buy it again).

The regression is trained on the history itself, never on what follows the
clock: features are computed at earlier cut-off days ``as_of - 14 k``
(k = 1, 2 by default) from the purchase days before each cut-off, and labelled
by whether the pair was bought in the ``h`` days from it (h = 7 and 14; the
horizon is a feature). On Complete Journey, two windows score as well held
out as four (AUC 0.746 either way) at half the fitting time. The alert
threshold for each training horizon maximises F1 on the training rows; other
horizons interpolate in log-horizon.

Urgency of an alert compares the expected run-out date (last purchase plus the
pair's typical interval, the log-normal median) with the clock: ``overdue``
when it has passed, ``due`` within the next three days, ``soon`` otherwise.
A product bought on a single day has no rhythm to run out on and never
raises an alert, though it still gets a (low) probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.consumption import BORROWED_EVIDENCE, lognormal_outlook
from omnix.engine.features import (
    PreparedLines,
    check_as_of,
    day_table,
    days_ago,
    local_day,
    lookup,
    prepare_lines,
)
from omnix.engine.logistic import LogisticFit, fit_logistic
from omnix.engine.replenishment_features import (
    FEATURE_NAMES,
    design_matrix,
    pair_table,
    product_rates,
)

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "ReplenishmentAlert",
    "ReplenishmentScorer",
    "alerts_of",
    "fit_replenishment_scorer",
    "replenishment_alerts",
    "replenishment_outlook",
]

TRAINING_HORIZONS = (7, 14)
# One-time pairs outnumber repeat pairs; a quarter of them, weighted by four,
# keeps their information at a quarter of the fitting cost.
_SINGLE_DAY_SAMPLE = 4
_MIN_CLASS = 50
_L2 = 1.0
_DUE_DAYS = 3


@dataclass(frozen=True, eq=False)
class ReplenishmentScorer:
    """A fitted repurchase scorer and the population tables it reads.

    ``fit`` is None when the history was too thin to learn from (fewer than
    50 positive or negative training pairs): probabilities are then the
    log-normal ones and the threshold 0.5.
    """

    fit: LogisticFit | None
    product_rates: pl.DataFrame
    population_repeat_share: float
    thresholds: tuple[tuple[int, float], ...]
    trained_until: datetime
    training_pairs: int

    def threshold(self, horizon_days: float) -> float:
        """Alert threshold for a horizon (interpolated in log-horizon)."""
        horizons = np.log([h for h, _ in self.thresholds])
        values = np.array([t for _, t in self.thresholds])
        return float(np.interp(np.log(horizon_days), horizons, values))


@dataclass(frozen=True)
class ReplenishmentAlert:
    """A product predicted to be bought again within the horizon."""

    customer_id: str
    product_id: str
    product_name: str
    category: str
    urgency: str
    probability: float
    suggested_quantity: int
    last_purchase_date: date
    expected_run_out_date: date
    predicted_next_purchase_date: date
    typical_interval_days: float
    confidence: float
    reason: str


def _best_f1_threshold(probability: FloatArray, label: npt.NDArray[np.bool_]) -> float:
    """The probability cut-off that maximises F1 on labelled rows."""
    order = np.argsort(-probability, kind="stable")
    hits = np.cumsum(label[order])
    alerts = np.arange(1, order.size + 1)
    f1 = 2.0 * hits / (alerts + max(int(label.sum()), 1))
    best = int(np.argmax(f1))
    return float(probability[order][best])


def fit_replenishment_scorer(
    lines: pl.DataFrame | PreparedLines,
    as_of: datetime,
    tz: str = "UTC",
    *,
    windows: int = 2,
    step_days: int = 14,
) -> ReplenishmentScorer:
    """Learn the repurchase scorer from the history before ``as_of``.

    Parameters
    ----------
    lines : polars.DataFrame
        The population's purchase lines (engine contract).
    as_of : datetime
        The clock; nothing at or after it is read.
    tz : str
        Store time zone.
    windows, step_days : int
        Training cut-offs at ``as_of - step_days * k``, k = 1..windows; the
        label windows (up to 14 days) all end before ``as_of``.
    """
    if step_days < max(TRAINING_HORIZONS):
        raise ValueError(f"step_days: must be at least {max(TRAINING_HORIZONS)}")
    as_of_utc = check_as_of(as_of)
    as_of_day = local_day(as_of_utc, tz)
    # One day table serves every cut-off: training reads its days before the
    # cut-off day, labels its days in the horizon after it.
    days = day_table(prepare_lines(lines, as_of_utc, tz), "product_id")
    rates, overall = product_rates(pair_table(days, as_of_day, (7,)))
    rows: list[FloatArray] = []
    labels: list[npt.NDArray[np.bool_]] = []
    weights: list[FloatArray] = []
    repeat_rows: list[npt.NDArray[np.bool_]] = []
    horizon_of: list[FloatArray] = []
    for k in range(1, windows + 1):
        cutoff_day = as_of_day - timedelta(days=step_days * k)
        before = days.filter(pl.col("day") < cutoff_day)
        if before.height == 0:
            break
        table = pair_table(before, cutoff_day, TRAINING_HORIZONS)
        cut_rates, cut_overall = product_rates(table)
        sampled = (
            pl.struct("customer_id", "product_id").hash(seed=7) % _SINGLE_DAY_SAMPLE
        )
        table = table.filter((pl.col("n_days") >= 2) | (sampled == 0))
        for horizon in TRAINING_HORIZONS:
            bought = days.filter(
                (pl.col("day") >= cutoff_day)
                & (pl.col("day") < cutoff_day + timedelta(days=horizon))
            ).select("customer_id", "product_id", pl.lit(True).alias("bought"))
            labelled = table.join(
                bought.unique(), on=["customer_id", "product_id"], how="left"
            )
            labelled, matrix = design_matrix(labelled, horizon, cut_rates, cut_overall)
            rows.append(matrix)
            labels.append(labelled["bought"].fill_null(False).to_numpy())
            repeat = labelled["n_days"].to_numpy() >= 2
            weights.append(np.where(repeat, 1.0, float(_SINGLE_DAY_SAMPLE)))
            repeat_rows.append(repeat)
            horizon_of.append(np.full(labelled.height, float(horizon)))

    label = np.concatenate(labels) if labels else np.zeros(0, dtype=bool)
    positives = int(label.sum())
    if positives < _MIN_CLASS or label.size - positives < _MIN_CLASS:
        return ReplenishmentScorer(
            fit=None,
            product_rates=rates,
            population_repeat_share=overall,
            thresholds=tuple((h, 0.5) for h in TRAINING_HORIZONS),
            trained_until=as_of_utc,
            training_pairs=int(label.size),
        )
    matrix = np.vstack(rows)
    fit = fit_logistic(
        matrix,
        label,
        l2=_L2,
        sample_weight=np.concatenate(weights),
        feature_names=FEATURE_NAMES,
    )
    probability = fit.predict_proba(matrix)
    repeat = np.concatenate(repeat_rows)
    horizons = np.concatenate(horizon_of)
    thresholds = tuple(
        (h, _best_f1_threshold(probability[mask], label[mask]))
        for h in TRAINING_HORIZONS
        for mask in [repeat & (horizons == h)]
    )
    return ReplenishmentScorer(
        fit=fit,
        product_rates=rates,
        population_repeat_share=overall,
        thresholds=thresholds,
        trained_until=as_of_utc,
        training_pairs=int(label.size),
    )


def replenishment_outlook(
    lines: pl.DataFrame | PreparedLines,
    scorer: ReplenishmentScorer,
    as_of: datetime,
    tz: str = "UTC",
    *,
    horizon_days: int = 7,
) -> pl.DataFrame:
    """Repurchase probability within the horizon for every (customer, product).

    Returns one row per pair in ``lines`` before ``as_of``: customer_id,
    product_id, category, purchase_days, last_purchase_date,
    typical_interval_days, expected_run_out_date, days_until_run_out,
    predicted_next_purchase_date, probability, alert, urgency,
    suggested_quantity and confidence. ``alert`` is false for one-time
    purchases whatever their probability.
    """
    if horizon_days < 1:
        raise ValueError("horizon_days: must be at least 1")
    as_of_utc = check_as_of(as_of)
    as_of_day = local_day(as_of_utc, tz)
    prepared = prepare_lines(lines, as_of_utc, tz)
    table = pair_table(day_table(prepared, "product_id"), as_of_day, (horizon_days,))
    table, matrix = design_matrix(
        table, horizon_days, scorer.product_rates, scorer.population_repeat_share
    )
    mu = table["mu"].to_numpy()
    elapsed = table["elapsed_days"].to_numpy().astype(np.float64)
    # Same split as consumption_patterns: the point date from sigma, the
    # probability and confidence from the predictive spread.
    median, _, _ = lognormal_outlook(mu, table["sigma"].to_numpy(), elapsed, 1.0)
    _, lognormal_p, window = lognormal_outlook(
        mu, table["sigma_predictive"].to_numpy(), elapsed, float(horizon_days)
    )
    probability = (
        lognormal_p if scorer.fit is None else scorer.fit.predict_proba(matrix)
    )
    repeat = table["n_days"].to_numpy() >= 2
    confidence = window * np.where(repeat, 1.0, BORROWED_EVIDENCE)
    typical = np.exp(mu)
    run_out_in = np.rint(typical - elapsed).astype(np.int64)
    next_in = np.maximum(np.rint(median - elapsed), 0).astype(np.int64)
    category = prepared.group_by("product_id").agg(pl.col("category").first())
    outlook = table.select(
        "customer_id",
        "product_id",
        pl.col("n_days").alias("purchase_days"),
        pl.col("last_day").alias("last_purchase_date"),
        pl.Series("typical_interval_days", typical),
        pl.Series("days_until_run_out", run_out_in),
        pl.Series("days_until_next_purchase", next_in),
        pl.Series("probability", probability),
        pl.Series("confidence", np.clip(confidence, 0.0, 1.0)),
        pl.col("typical_quantity")
        .round(0)
        .clip(lower_bound=1.0)
        .cast(pl.Int64)
        .alias("suggested_quantity"),
        (
            pl.Series(repeat)
            & (pl.Series(probability) >= scorer.threshold(horizon_days))
        ).alias("alert"),
    ).join(category, on="product_id", how="left")
    return outlook.with_columns(
        (pl.lit(as_of_day) + pl.duration(days=pl.col("days_until_run_out"))).alias(
            "expected_run_out_date"
        ),
        (
            pl.lit(as_of_day) + pl.duration(days=pl.col("days_until_next_purchase"))
        ).alias("predicted_next_purchase_date"),
        pl.when(pl.col("days_until_run_out") < 0)
        .then(pl.lit("overdue"))
        .when(pl.col("days_until_run_out") <= _DUE_DAYS)
        .then(pl.lit("due"))
        .otherwise(pl.lit("soon"))
        .alias("urgency"),
    )


def replenishment_alerts(
    lines: pl.DataFrame | PreparedLines,
    scorer: ReplenishmentScorer,
    as_of: datetime,
    tz: str = "UTC",
    *,
    horizon_days: int = 7,
    catalogue: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The alerted pairs of :func:`replenishment_outlook`, most urgent first.

    Adds ``product_name`` (from ``catalogue`` when given, else the product
    id) and a human-readable ``reason``.
    """
    outlook = replenishment_outlook(
        lines, scorer, as_of, tz, horizon_days=horizon_days
    ).filter(pl.col("alert"))
    if catalogue is not None and "name" in catalogue.columns:
        names = catalogue.select(
            pl.col("product_id").cast(pl.Utf8), pl.col("name").alias("product_name")
        )
        outlook = lookup(outlook, names, "product_id")
    else:
        outlook = outlook.with_columns(pl.lit(None, pl.Utf8).alias("product_name"))
    elapsed = (
        pl.lit(local_day(as_of, tz)) - pl.col("last_purchase_date")
    ).dt.total_days()
    reason = pl.format(
        "Bought on {} days, about every {} days; last bought {}",
        pl.col("purchase_days"),
        pl.col("typical_interval_days").round(0).cast(pl.Int64),
        days_ago(elapsed),
    )
    urgency_rank = pl.col("urgency").replace_strict(
        {"overdue": 0, "due": 1, "soon": 2}, return_dtype=pl.Int8
    )
    return outlook.with_columns(
        pl.col("product_name").fill_null(pl.col("product_id")),
        reason.alias("reason"),
    ).sort(
        [pl.col("customer_id"), urgency_rank, pl.col("probability")],
        descending=[False, False, True],
    )


def alerts_of(frame: pl.DataFrame) -> list[ReplenishmentAlert]:
    """Rows of :func:`replenishment_alerts` as frozen value objects."""
    fields = list(ReplenishmentAlert.__dataclass_fields__)
    return [ReplenishmentAlert(*row) for row in frame.select(fields).iter_rows()]
