"""Analytics engine timings on Complete Journey, side by side in one run.

* fitting the population models (:func:`fit_population_models` and
  :func:`fit_activity_model`) on every household at 2018-01-01, median of
  three rounds (target: at most 2 s);
* ``analyse_customer`` for the household with the most line items, warm,
  50 runs, p50 and p95 (target: p95 at most 50 ms);
* the held-out evaluation of ``omnix eval`` on the default split, data
  loading included (target: at most 5 minutes).

Each figure is given as wall time and as CPU time of the process
(``time.process_time``, every thread counted): the machine it was written on
has two cores shared with other jobs, so wall time there says as much about
the neighbours as about the code, while CPU time measures the work done.

Run with ``python -m bench.analytics``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from omnix.engine.activity import fit_activity_model
from omnix.engine.population import analyse_customer, fit_population_models
from omnix.evaluation import run_evaluation
from omnix.evaluation.data import load_complete_journey

AS_OF = datetime(2018, 1, 1, tzinfo=UTC)
FIT_ROUNDS = 3
ANALYSIS_RUNS = 50
WARM_UP = 5


def _timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """``call()`` with its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _percentiles(seconds: list[float]) -> str:
    p50, p95 = np.percentile(np.asarray(seconds) * 1e3, [50, 95])
    return f"p50 {p50:6.1f} ms, p95 {p95:6.1f} ms"


def main() -> None:
    frames = load_complete_journey()
    lines, catalogue, customers = frames.lines, frames.catalogue, frames.customers

    fit_wall: list[float] = []
    fit_cpu: list[float] = []
    activity_wall: list[float] = []
    activity_cpu: list[float] = []
    models = None
    for _ in range(FIT_ROUNDS):
        models, wall, cpu = _timed(
            lambda: fit_population_models(lines, catalogue, customers, AS_OF)
        )
        fit_wall.append(wall)
        fit_cpu.append(cpu)
        _, wall, cpu = _timed(lambda: fit_activity_model(lines, AS_OF))
        activity_wall.append(wall)
        activity_cpu.append(cpu)
    assert models is not None

    busiest = (
        lines.filter(pl.col("purchased_at") < AS_OF)
        .group_by("customer_id")
        .len()
        .sort(["len", "customer_id"], descending=[True, False])
        .row(0)
    )
    customer_id, line_items = str(busiest[0]), int(busiest[1])
    own = lines.filter(pl.col("customer_id") == customer_id)
    declared = customers.filter(pl.col("customer_id") == customer_id)

    def analyse() -> object:
        return analyse_customer(models, own, customer_id, customer=declared)

    for _ in range(WARM_UP):
        analyse()
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(ANALYSIS_RUNS):
        _, wall, cpu = _timed(analyse)
        walls.append(wall)
        cpus.append(cpu)

    result, eval_wall, eval_cpu = _timed(run_evaluation)

    households = lines.filter(pl.col("purchased_at") < AS_OF)["customer_id"].n_unique()
    fit_total = [f + a for f, a in zip(fit_wall, activity_wall, strict=True)]
    fit_total_cpu = [f + a for f, a in zip(fit_cpu, activity_cpu, strict=True)]
    print(f"Analytics engine on Complete Journey at {AS_OF:%Y-%m-%d}")
    print(f"  population fit, {households:,} households ({FIT_ROUNDS} rounds, medians)")
    print(
        f"    fit_population_models   wall {statistics.median(fit_wall):6.2f} s"
        f"   cpu {statistics.median(fit_cpu):6.2f} s"
    )
    print(
        f"    fit_activity_model      wall {statistics.median(activity_wall):6.2f} s"
        f"   cpu {statistics.median(activity_cpu):6.2f} s"
    )
    print(
        f"    both                    wall {statistics.median(fit_total):6.2f} s"
        f"   cpu {statistics.median(fit_total_cpu):6.2f} s   (target <= 2 s)"
    )
    print(
        f"  analyse_customer, household {customer_id} ({line_items:,} lines),"
        f" warm, {ANALYSIS_RUNS} runs"
    )
    print(f"    wall {_percentiles(walls)}   (target p95 <= 50 ms)")
    print(f"    cpu  {_percentiles(cpus)}")
    print(
        f"  omnix eval at {result['split']}: wall {eval_wall:6.1f} s,"
        f" cpu {eval_cpu:6.1f} s   (target <= 300 s)"
    )
    print(
        "    recall@10 {recall_at_10:.3f}, replenishment AUC {replenishment_auc:.3f},"
        " alert F1 {replenishment_f1:.3f}, activity AUC {activity_auc:.3f}".format(
            **result
        )
    )


if __name__ == "__main__":
    main()
