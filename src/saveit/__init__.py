"""SaveIt: restaurant reservations on one booking engine that never double-books."""

__version__ = "0.1.0"
