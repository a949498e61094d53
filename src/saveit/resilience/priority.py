"""CPU priority for background threads.

What follows a guest's request by moments (answering a chat message, sending a
confirmation, offering a waitlist table, counting the day's figures) can wait a
little longer on a busy machine; the requests themselves cannot. ``saveit
worker`` lowers the nice value of those threads so the API processes go first
when both want the cores, and the background work catches up as soon as they
are free. Linux keeps a nice value per thread; elsewhere this does nothing.

A thread's nice value orders it only among the threads of its own scheduling
group, though. Where Linux groups processes by session (autogroups, on unless a
cgroup holds the process) the API and the worker each lead a session of their
own (systemd services, ``setsid``, the benches), and the kernel first shares
the cores equally between the groups, whatever the threads' nice values. The
worker therefore also lowers its session's group (:func:`lower_session_group`).
Measured in ``bench/webhooks.py`` (bench/README.md, 2026-12-06): during the
acknowledgement burst the API's event loop ran 45% of the time and waited 28%
on the run queue, while the worker's guest-answering threads, at nice 10, ran
28% and 16%.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

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


AUTOGROUP = Path("/proc/self/autogroup")  # "/autogroup-212 nice 0"; empty: see below


def lower_session_group(nice: int) -> bool:
    """Give this process's scheduling group (its session's autogroup) at least the
    nice value ``nice``, if the process leads its session; True when it did.

    A process that does not lead its session shares the group with the rest of it
    (the shell and whatever else the shell started, the API perhaps), so it is
    left alone. Inside a container or a cgroup with a CPU weight the autogroup
    does not count and the write changes nothing: give the container its CPU
    shares instead (deploy/compose.yaml).

    The file reads empty for a process in the boot session's group (the root
    task group, which the kernel neither names nor lets anyone weigh): a session
    leader never is, since ``setsid`` gives it a group of its own, but PID 1 of a
    machine or a container without one may be."""
    if nice <= 0 or sys.platform != "linux" or os.getsid(0) != os.getpid():
        return False
    try:
        fields = AUTOGROUP.read_text().split()
        if len(fields) != 3:
            log.info("left the worker's scheduling group as it is: it has no nice value")
            return False
        if int(fields[2]) < nice:
            AUTOGROUP.write_text(f"{nice}\n")
    except (OSError, ValueError) as exc:  # no autogroups in this kernel, or refused
        log.info("left the worker's scheduling group as it is: %s", exc)
        return False
    return True
