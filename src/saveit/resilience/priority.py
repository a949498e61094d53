"""CPU priority for background threads.

What follows a guest's request by moments (answering a chat message, sending a
confirmation, offering a waitlist table, counting the day's figures) can wait a
little longer on a busy machine; the requests themselves cannot. ``saveit
worker`` lowers the nice value of those threads so the API processes go first
when both want the cores, and the background work catches up as soon as they
are free. Linux keeps a nice value per thread; elsewhere this does nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def lower_priority(nice: int, thread: threading.Thread | None = None) -> None:
    """Raise the nice value of ``thread`` (a started one; default: the calling
    thread) by ``nice``. A refusal (a container without the capability to change
    it back, say) is logged and the thread runs on at its priority."""
    if nice <= 0 or sys.platform != "linux":
        return
    native = threading.get_native_id() if thread is None else thread.native_id
    if native is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, native, os.getpriority(os.PRIO_PROCESS, native) + nice)
    except OSError as exc:
        log.warning("could not lower the CPU priority of a background thread: %s", exc)
