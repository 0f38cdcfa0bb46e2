"""Write GrowthBook gbstats answers as golden values for our experiment statistics.

gbstats 0.8.0 pins numpy<2 and pandas<2, so it cannot live in the project's
environment. Run this script with the interpreter of a virtual environment of
its own (checked on Python 3.11: the pins resolve to numpy 1.26, pandas 1.5 and
a scipy wheel, nothing builds from source)::

    python3 -m venv /tmp/gbstats-venv
    /tmp/gbstats-venv/bin/pip install gbstats==0.8.0
    /tmp/gbstats-venv/bin/python scripts/gbstats_golden.py

It writes ``tests/engine/golden/gbstats_ttest.json``: for each case the
sufficient statistics of both arms and gbstats' two-sided frequentist t-test
output, relative (its default) and absolute, plus sample-ratio-mismatch
p-values from ``gbstats.utils.check_srm``. The file is committed; the test
``tests/engine/test_experiment_stats.py`` compares our engine with it. The
script imports nothing from OMNIX, so the two sides share no code.
"""

from __future__ import annotations

import json
import math
from importlib.metadata import version
from pathlib import Path
from typing import Any

from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm

OUTPUT = Path(__file__).resolve().parents[1] / "tests/engine/golden/gbstats_ttest.json"


def mean_arm(n: int, mean: float, sd: float) -> dict[str, Any]:
    """Sufficient statistics of an arm with the given sample mean and sd."""
    total = n * mean
    sum_squares = (n - 1) * sd**2 + n * mean**2
    return {"n": n, "total": total, "sum_squares": sum_squares}


def bernoulli_arm(n: int, successes: int) -> dict[str, Any]:
    """A conversion arm written as a sample mean of 0/1 outcomes."""
    return {"n": n, "total": float(successes), "sum_squares": float(successes)}


# Varied on purpose: sizes from 2 to 100k, equal and very unequal variances,
# positive, negative and null effects, Bernoulli outcomes both as sample means
# and as proportions, and a control mean of zero that gbstats refuses.
MEAN_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("basket_value_large", mean_arm(1000, 45.2, 20.0), mean_arm(1020, 47.1, 22.0)),
    ("small_samples", mean_arm(8, 12.5, 3.1), mean_arm(11, 15.0, 4.4)),
    ("unequal_variances", mean_arm(50, 30.0, 2.0), mean_arm(400, 31.5, 15.0)),
    ("negative_effect", mean_arm(300, 0.82, 0.31), mean_arm(310, 0.74, 0.29)),
    ("huge_tiny_effect", mean_arm(100_000, 10.0, 5.0), mean_arm(100_000, 10.02, 5.0)),
    ("latency_ms", mean_arm(200, 320.0, 80.0), mean_arm(190, 290.0, 60.0)),
    ("null_effect", mean_arm(500, 3.3, 1.2), mean_arm(480, 3.3, 1.2)),
    ("two_per_arm", mean_arm(2, 5.0, 1.0), mean_arm(2, 7.0, 2.0)),
    ("near_zero_control", mean_arm(400, 0.05, 1.0), mean_arm(400, 0.21, 1.1)),
    ("bernoulli_means", bernoulli_arm(1000, 120), bernoulli_arm(1000, 150)),
    ("bernoulli_small", bernoulli_arm(40, 9), bernoulli_arm(35, 14)),
    ("zero_control_mean", mean_arm(100, 0.0, 2.0), mean_arm(100, 0.4, 2.0)),
]

PROPORTION_CASES: list[tuple[str, dict[str, int], dict[str, int]]] = [
    ("conversion_mid", {"n": 500, "successes": 30}, {"n": 510, "successes": 45}),
    ("conversion_small", {"n": 20, "successes": 2}, {"n": 22, "successes": 7}),
    (
        "conversion_large",
        {"n": 10_000, "successes": 4800},
        {"n": 10_000, "successes": 4950},
    ),
    ("conversion_worse", {"n": 2500, "successes": 410}, {"n": 2400, "successes": 350}),
]

SRM_CASES: list[tuple[str, list[int], list[float]]] = [
    ("balanced_ok", [5000, 5100], [0.5, 0.5]),
    ("balanced_mismatch", [5000, 5400], [0.5, 0.5]),
    ("one_to_two", [1000, 2100], [1.0, 2.0]),
    ("three_arms", [310, 480, 210], [0.3, 0.5, 0.2]),
    ("seventy_thirty_mismatch", [720, 280], [0.5, 0.5]),
    ("tiny", [3, 4], [0.5, 0.5]),
]


def finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def run_ttest(stat_a: Any, stat_b: Any, difference_type: str) -> dict[str, Any]:
    config = FrequentistConfig(difference_type=difference_type, alpha=0.05)
    result = TwoSidedTTest(stat_a, stat_b, config).compute_result()
    return {
        "expected": finite_or_none(result.expected),
        "ci": [finite_or_none(result.ci[0]), finite_or_none(result.ci[1])],
        "p_value": finite_or_none(result.p_value),
        "uplift_stddev": finite_or_none(result.uplift.stddev),
        "error_message": result.error_message,
    }


def main() -> None:
    cases: list[dict[str, Any]] = []

    for name, a, b in MEAN_CASES:
        stat_a = SampleMeanStatistic(
            n=a["n"], sum=a["total"], sum_squares=a["sum_squares"]
        )
        stat_b = SampleMeanStatistic(
            n=b["n"], sum=b["total"], sum_squares=b["sum_squares"]
        )
        cases.append(
            {
                "name": name,
                "kind": "mean",
                "a": a,
                "b": b,
                "relative": run_ttest(stat_a, stat_b, "relative"),
                "absolute": run_ttest(stat_a, stat_b, "absolute"),
            }
        )

    for name, a, b in PROPORTION_CASES:
        stat_a = ProportionStatistic(n=a["n"], sum=a["successes"])
        stat_b = ProportionStatistic(n=b["n"], sum=b["successes"])
        cases.append(
            {
                "name": name,
                "kind": "proportion",
                "a": a,
                "b": b,
                "relative": run_ttest(stat_a, stat_b, "relative"),
                "absolute": run_ttest(stat_a, stat_b, "absolute"),
            }
        )

    srm = [
        {
            "name": name,
            "observed": observed,
            "weights": weights,
            "p_value": float(check_srm(observed, weights)),
        }
        for name, observed, weights in SRM_CASES
    ]

    document = {
        "generator": "scripts/gbstats_golden.py",
        "gbstats_version": version("gbstats"),
        "scipy_version": version("scipy"),
        "numpy_version": version("numpy"),
        "test": "gbstats.frequentist.tests.TwoSidedTTest, alpha 0.05",
        "cases": cases,
        "srm": srm,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {len(cases)} t-test cases and {len(srm)} SRM cases to {OUTPUT}")


if __name__ == "__main__":
    main()
