"""Customer segments: computation, storage, API and schedule (guide section 3)."""
