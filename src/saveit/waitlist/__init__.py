"""The notify list: guests waiting for a full time, offered the seat that frees up.

:mod:`.service` holds the entries (joining, changing, leaving, the sweep),
:mod:`.offers` the seats held for offers and the guest's answer, :mod:`.records`
their audit rows and events, :mod:`.runner` the worker's part (offers from the
event stream, the expiry sweep), :mod:`.chat` the bot's part. Submodules are
imported by name: the bot and the notifier import each other's neighbours, and
a package that imported them all would tie them in a cycle.
"""
