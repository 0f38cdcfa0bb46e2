"""A/B tests of analysis models: assignment, outcomes, statistics, endpoints."""
