"""The notify list: guests waiting for a full time, offered the seat that frees up.

:mod:`.service` holds the entries (joining, changing, leaving, the sweep),
:mod:`.offers` the seats held for offers and the guest's answer, :mod:`.records`
their audit rows and events, :mod:`.runner` the worker's part (offers from the
event stream, the expiry sweep). The bot's part lives with the bot
(:mod:`saveit.conversation.waitlist_chat`), which looks down at the service;
nothing here imports the conversation. Submodules are imported by name: a
package that imported them all would load the notifier's neighbours with it.
"""
