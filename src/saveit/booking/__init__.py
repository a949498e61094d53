"""Booking use cases: each one unit of work that writes state, audit and outbox together.

:mod:`.service` is the facade the application holds; :mod:`.create`,
:mod:`.change`, :mod:`.status`, :mod:`.walk_in` and :mod:`.queries` the use
cases; :mod:`.context` the steps they share; :mod:`.ports` what they need of the
data (the store's repositories, or the unit tests' in-memory ones).
"""
