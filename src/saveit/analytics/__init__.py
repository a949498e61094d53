"""Analytics and guest satisfaction: the figures an owner runs the restaurant on
(per-day counters kept current from the event stream, summed per request), and
the one-question survey after a visit that feeds the satisfaction figure."""
