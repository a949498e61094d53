"""The composition root: settings in, a wired application container out.

* :mod:`.container` — :class:`Container` and :func:`build`, the whole graph in one pass.
* :mod:`.adapters` — the adapters the settings choose (bus, Redis, replica, sealing keys).
* :mod:`.heap` — what a process does once it is put together.

Which background threads a process runs over the container is
:mod:`saveit.runtime`'s business.
"""

from saveit.bootstrap.adapters import (
    build_bus,
    build_redis_gate,
    build_replica,
    build_secret_box,
)
from saveit.bootstrap.container import Container, build, build_availability
from saveit.bootstrap.heap import freeze_startup_heap

__all__ = [
    "Container",
    "build",
    "build_availability",
    "build_bus",
    "build_redis_gate",
    "build_replica",
    "build_secret_box",
    "freeze_startup_heap",
]
