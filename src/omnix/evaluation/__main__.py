"""``python -m omnix.evaluation [--split ISO] [--tz ZONE] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from omnix.evaluation.heldout import DEFAULT_SPLIT, run_evaluation


def _table(result: dict[str, Any]) -> str:
    rows = [f"Held-out evaluation at {result['split']} ({result['tz']})", ""]
    for name, target in result["targets"].items():
        value = result[name]
        shown = "n/a" if value is None else f"{value:.3f}"
        mark = "ok" if result["meets_targets"][name] else "BELOW TARGET"
        rows.append(f"{name:28s} {shown:>8s}  target {target:.3f}  {mark}")
    rows.append(
        f"{'next_purchase_mae_days':28s} {result['next_purchase_mae_days']:8.2f}"
    )
    rows.append("")
    rows.append("baselines")
    for metric, values in result["baselines"].items():
        for name, value in values.items():
            shown = "n/a" if value is None else f"{value:.3f}"
            rows.append(f"  {metric:26s} {name:26s} {shown:>8s}")
    rows.append("")
    rows.append(f"seconds: {result['details']['seconds']}")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m omnix.evaluation")
    parser.add_argument("--split", default=DEFAULT_SPLIT.isoformat())
    parser.add_argument("--tz", default="UTC")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-activity", action="store_true")
    options = parser.parse_args(argv)
    result = run_evaluation(
        datetime.fromisoformat(options.split),
        tz=options.tz,
        include_activity=not options.no_activity,
    )
    if options.json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
