"""What a row written now carries of the work that wrote it: the request id and
the trace context (see :mod:`saveit.observe.context`, which provides them).

The store only places the carrier under :data:`META_KEY`; what goes in it is
observability's business, registered with :func:`provide` when
``saveit.observe`` is imported. A process that never imports it has no request
id and no tracing, so its rows carry nothing, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

META_KEY = "_meta"  # where an outbox payload or a message body keeps its carrier


def _nothing() -> dict[str, str] | None:
    return None


_provider: Callable[[], dict[str, str] | None] = _nothing


def provide(provider: Callable[[], dict[str, str] | None]) -> None:
    """Use ``provider`` for the carrier of every row written from now on."""
    global _provider
    _provider = provider


def with_carrier(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` plus the current carrier under :data:`META_KEY` (itself when none)."""
    found = _provider()
    if found is None:
        return document
    return {**document, META_KEY: found}
