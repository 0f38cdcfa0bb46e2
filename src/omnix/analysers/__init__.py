"""Analysers: the interchangeable engines that produce an analysis.

Local engines run in-process; LLM-backed analysers send a customer's
computed features (never personal data) to an LLM provider and validate its
JSON answer. ``providers`` holds the provider clients, ``prompts`` what is
asked, ``answers`` the shape of what must come back, and ``pricing`` what a
completion costs.
"""
