"""OMNIX: customer analytics for supermarket chains."""

__version__ = "0.1.0"
