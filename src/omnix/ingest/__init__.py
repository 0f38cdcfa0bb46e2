"""Bulk loading: purchase files and the Complete Journey demo data."""
