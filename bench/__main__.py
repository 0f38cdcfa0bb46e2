"""``python -m bench``: every benchmark, one after another."""

from __future__ import annotations

import sys

from bench import analytics, api, batch, load, segments, store, streaming

BENCHMARKS = {
    "load": load.main,
    "api": api.main,
    "analytics": analytics.main,
    "segments": segments.main,
    "store": store.main,
    "batch": batch.main,
    "streaming": streaming.main,
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        if name not in BENCHMARKS:
            raise SystemExit(
                f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}"
            )
        BENCHMARKS[name]()
        print()


if __name__ == "__main__":
    main()
