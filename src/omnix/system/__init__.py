"""Health, metrics, idempotency and other cross-cutting service parts."""
