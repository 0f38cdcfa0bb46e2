"""Batch analyses: many households analysed by workers sharing one queue."""
