"""Process start-up: what a process does once it is put together."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move everything allocated while starting up out of the garbage collector's sight.

    A started process holds a few hundred thousand long-lived objects (modules,
    SQLAlchemy metadata and compiled statements, pydantic models), and every
    full collection walked them all: 60-145 ms in which an API process answered
    nothing, the tail of ``bench/webhooks.py`` (p99 ~200 ms, ~96 ms with this).
    Frozen objects are never collected, which is right for what lives as long
    as the process; what requests allocate afterwards is collected as before.
    So it is called once per process, where the process is put together (the
    server's app factory, ``saveit worker``), never per app: tests build many
    apps in one process, and freezing there would keep each one's garbage.
    """
    gc.collect()
    gc.freeze()
