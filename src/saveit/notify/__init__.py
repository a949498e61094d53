"""Guest notifications, reminders and no-shows (see :mod:`.notifier` and :mod:`.scheduler`)."""

from saveit.notify.notifier import Notifier
from saveit.notify.qr import QrCodes
from saveit.notify.runner import NotifyThreads, start_notifications
from saveit.notify.scheduler import Scheduler

__all__ = ["Notifier", "NotifyThreads", "QrCodes", "Scheduler", "start_notifications"]
