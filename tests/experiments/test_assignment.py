"""Sticky assignment: a pure function of test id, customer id and split."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy import stats

from omnix.experiments.assignment import status_at
from omnix.experiments.buckets import arm_for, bucket
from omnix.experiments.models import ABTest

TEST_ID = "0b8f1c9e-5d1a-4d6e-9f0a-3c2b1a0f9e8d"
CUSTOMERS = [f"household-{n}" for n in range(20_000)]


def test_buckets_are_the_same_in_every_process() -> None:
    ids = CUSTOMERS[:50]
    code = (
        "from omnix.experiments.buckets import bucket\n"
        f"ids = {ids!r}\n"
        f"print(' '.join(repr(bucket({TEST_ID!r}, i)) for i in ids))\n"
    )
    ours = [bucket(TEST_ID, i) for i in ids]
    # Python's own string hashing differs between this process and that one.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        check=True, env=env,
    ).stdout  # fmt: skip
    assert [float(x) for x in output.split()] == ours


def test_buckets_are_uniform_and_splits_are_honoured() -> None:
    buckets = np.array([bucket(TEST_ID, c) for c in CUSTOMERS])
    assert ((buckets >= 0) & (buckets < 1)).all()
    assert stats.kstest(buckets, "uniform").pvalue > 0.001
    for split in (0.1, 0.5, 0.8):
        share_b = np.mean([arm_for(TEST_ID, c, split) == "B" for c in CUSTOMERS])
        low, high = stats.binom.interval(0.999, len(CUSTOMERS), split)
        assert low / len(CUSTOMERS) <= share_b <= high / len(CUSTOMERS)


def test_two_tests_assign_independently() -> None:
    first = [arm_for(TEST_ID, c, 0.5) for c in CUSTOMERS]
    second = [arm_for("another-test", c, 0.5) for c in CUSTOMERS]
    agreement = np.mean([a == b for a, b in zip(first, second, strict=True)])
    low, high = stats.binom.interval(0.999, len(CUSTOMERS), 0.5)
    assert low / len(CUSTOMERS) <= agreement <= high / len(CUSTOMERS)


def test_a_larger_split_only_moves_customers_from_a_to_b() -> None:
    for customer in CUSTOMERS[:2000]:
        before, after = arm_for(TEST_ID, customer, 0.3), arm_for(TEST_ID, customer, 0.6)
        assert not (before == "B" and after == "A")


def test_status_follows_dates_and_deactivation() -> None:
    start = datetime(2018, 1, 1, tzinfo=UTC)
    test = ABTest(start_at=start, end_at=start + timedelta(days=7))
    assert status_at(test, start - timedelta(seconds=1)) == "pending"
    assert status_at(test, start) == "running"
    assert status_at(test, start + timedelta(days=7)) == "completed"
    test.deactivated_at = start + timedelta(days=2)
    assert status_at(test, start + timedelta(days=3)) == "paused"
    assert status_at(test, start + timedelta(days=30)) == "paused"
