"""Section 2 of the guide: the analytics service over the engine."""
