"""Booking use cases: each one unit of work that writes state, audit and outbox together."""
