"""What every analysis costs: the usage ledger and cost analytics."""
