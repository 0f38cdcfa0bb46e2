"""Purchase days and per-household features for the activity model.

Turns purchase lines into distinct purchase days in the store time zone, then,
at a cutoff instant, into the BG/NBD summaries ``(x, t_x, T)`` in days and the
features of the learned layer in :mod:`omnix.engine.activity`. Only purchases
strictly before the cutoff are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.btyd import BGNBDFit, InsufficientDataError, fit_bgnbd

FloatArray = npt.NDArray[np.float64]

HORIZON_DAYS = 60
"""Window of ``p_buy_60d`` and of the learned calibration, in days."""

REQUIRED_COLUMNS = ("customer_id", "purchased_at", "quantity", "price")

FEATURE_NAMES = (
    "log_expected_purchases_60d",
    "log_recency_days",
    "log_repeat_days",
    "log_tenure_days",
    "log_days_last_30d",
    "log_days_last_60d",
    "log_days_last_90d",
    "spend_trend",
    "log_recency_over_rhythm",
    "log_p_alive",
)


@dataclass(frozen=True, eq=False)
class HouseholdFeatures:
    """Households with a purchase before a cutoff, in customer_id order.

    ``x``, ``t_x`` and ``T`` are the BG/NBD summaries in days: repeat purchase
    days, days from the first to the last purchase day, and days from the
    first purchase day's midnight to the cutoff. ``features`` has one column
    per :data:`FEATURE_NAMES` entry.
    """

    customer_ids: list[str]
    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    bgnbd: BGNBDFit
    p_alive: FloatArray
    expected_30d: FloatArray
    p_buy_bgnbd: FloatArray
    features: FloatArray

    @property
    def recency_days(self) -> FloatArray:
        """Days since the last purchase day's midnight."""
        return self.T - self.t_x


def purchase_days(lines: pl.DataFrame, tz: str) -> pl.DataFrame:
    """One row per (customer, local purchase day): first local time and spend.

    Lines with quantity <= 0 (returns, corrections) are dropped. The result
    has columns customer_id, day (Date), local_at (naive local Datetime of the
    day's first line) and value (the day's spend, quantity x price).

    Raises
    ------
    ValueError
        If a required column is missing, purchased_at is not a Datetime, or
        ``tz`` is not a known time zone.
    """
    check_columns(lines)
    try:
        ZoneInfo(tz)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {tz!r}") from exc
    local = utc_timestamps(lines).dt.convert_time_zone(tz)
    return (
        lines.filter(pl.col("quantity") > 0)
        .with_columns(
            pl.col("customer_id").cast(pl.Utf8),
            local_at=local.dt.replace_time_zone(None),
            value=pl.col("quantity") * pl.col("price"),
        )
        .group_by("customer_id", pl.col("local_at").dt.date().alias("day"))
        .agg(pl.col("local_at").min(), pl.col("value").sum())
    )


def household_features(days: pl.DataFrame, cutoff: datetime) -> HouseholdFeatures:
    """Fit the BG/NBD at a local cutoff and build every household's features.

    Parameters
    ----------
    days : polars.DataFrame
        Output of :func:`purchase_days`.
    cutoff : datetime
        Naive local wall-clock instant; purchases before it count.

    Raises
    ------
    InsufficientDataError
        If nobody bought before the cutoff or the BG/NBD cannot be fitted.
    """
    before = days.filter(pl.col("local_at") < cutoff)
    if before.height == 0:
        raise InsufficientDataError("no purchases before the cutoff")

    def within(n: int) -> pl.Expr:
        return pl.col("day") >= (cutoff - timedelta(days=n)).date()

    summary = (
        before.group_by("customer_id")
        .agg(
            first=pl.col("day").min(),
            last=pl.col("day").max(),
            purchase_days=pl.len(),
            last_30d=within(30).sum(),
            last_60d=within(60).sum(),
            last_90d=within(90).sum(),
            spend_60d=pl.col("value").filter(within(60)).sum(),
            spend_prior_60d=pl.col("value").filter(~within(60) & within(120)).sum(),
        )
        .sort("customer_id")
    )
    tenure = (pl.lit(cutoff) - pl.col("first").cast(pl.Datetime("us"))).dt
    summary = summary.with_columns(
        T=tenure.total_seconds(fractional=True) / 86400.0,
        t_x=(pl.col("last") - pl.col("first")).dt.total_days().cast(pl.Float64),
    )
    x = (summary["purchase_days"] - 1).to_numpy().astype(np.float64)
    t_x = summary["t_x"].to_numpy()
    T = summary["T"].to_numpy()
    fit = fit_bgnbd(x, t_x, T)

    p_alive = fit.p_alive(x, t_x, T)
    expected_60d = fit.expected_purchases(HORIZON_DAYS, x, t_x, T)
    recency = T - t_x
    rhythm = T / (x + 1.0)  # mean days between purchase days so far
    # Spend can only be negative through data errors; clip so the log holds.
    spend_recent = np.clip(summary["spend_60d"].to_numpy(), 0.0, None)
    spend_prior = np.clip(summary["spend_prior_60d"].to_numpy(), 0.0, None)
    features = np.column_stack(
        [
            np.log(expected_60d + 1e-3),
            np.log1p(recency),
            np.log1p(x),
            np.log1p(T),
            np.log1p(summary["last_30d"].to_numpy()),
            np.log1p(summary["last_60d"].to_numpy()),
            np.log1p(summary["last_90d"].to_numpy()),
            np.log1p(spend_recent) - np.log1p(spend_prior),
            np.log1p(recency) - np.log1p(rhythm),
            np.log(p_alive + 1e-6),
        ]
    ).astype(np.float64)
    return HouseholdFeatures(
        customer_ids=summary["customer_id"].to_list(),
        x=x,
        t_x=t_x,
        T=T,
        bgnbd=fit,
        p_alive=p_alive,
        expected_30d=fit.expected_purchases(30.0, x, t_x, T),
        p_buy_bgnbd=fit.p_purchase_within(HORIZON_DAYS, x, t_x, T),
        features=features,
    )


def check_columns(lines: pl.DataFrame) -> None:
    """Raise ValueError naming the ``lines`` columns the activity model lacks."""
    missing = [c for c in REQUIRED_COLUMNS if c not in lines.columns]
    if missing:
        raise ValueError(f"lines is missing column(s): {', '.join(missing)}")
    if not isinstance(lines.schema["purchased_at"], pl.Datetime):
        raise ValueError("lines.purchased_at must be a Datetime column")


def utc_timestamps(lines: pl.DataFrame) -> pl.Expr:
    """purchased_at as a UTC-aware expression; naive values are read as UTC."""
    dtype = lines.schema["purchased_at"]
    column = pl.col("purchased_at").dt.cast_time_unit("us")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return column.dt.replace_time_zone("UTC")
    return column.dt.convert_time_zone("UTC")


def as_utc(instant: datetime) -> datetime:
    """The instant in UTC; a naive datetime is taken to be UTC already."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=ZoneInfo("UTC"))
    return instant.astimezone(ZoneInfo("UTC"))


def local_naive(instant: datetime, tz: str) -> datetime:
    """Wall-clock time of ``instant`` in ``tz``, without the zone attached.

    Day counts are then plain calendar arithmetic; a daylight-saving change
    shifts a tenure by an hour, which no day-level feature notices.
    """
    return as_utc(instant).astimezone(ZoneInfo(tz)).replace(tzinfo=None)
