"""Held-out evaluation of the analytics engine on the Complete Journey data.

May import Polars, NumPy and the engine; nothing web or database.
"""

from omnix.evaluation.heldout import DEFAULT_SPLIT, TARGETS, run_evaluation

__all__ = ["DEFAULT_SPLIT", "TARGETS", "run_evaluation"]
