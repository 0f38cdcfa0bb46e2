"""Customer profiles, purchase histories and product interactions."""
