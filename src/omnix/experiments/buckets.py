"""A customer's arm: a pure function of the test id, customer id and split.

``bucket`` hashes the two ids (SHA-256: no process state, no random
generator, no dependence on Python's per-process string hashing) to a number
in [0, 1), and the customer is in arm B when it is below the split. The same
customer therefore gets the same arm in every process and after every
restart. The phase is not part of the hash: when a split grows from 0.2 to
0.5 only the customers with a bucket between the two move (from A to B), the
fewest possible. Kept free of heavy imports so any process can ask cheaply.
"""

from __future__ import annotations

import hashlib
from typing import Literal


def bucket(test_id: str, customer_id: str) -> float:
    """A customer's fixed position in [0, 1) for one test."""
    digest = hashlib.sha256(f"{test_id}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def arm_for(test_id: str, customer_id: str, split: float) -> Literal["A", "B"]:
    """Arm B for the share ``split`` of customers, arm A for the rest."""
    return "B" if bucket(test_id, customer_id) < split else "A"
