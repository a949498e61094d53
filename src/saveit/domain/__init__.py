"""Pure booking domain: no I/O, no framework imports."""
