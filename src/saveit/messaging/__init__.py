"""The provider-independent messaging core: every channel's messages pass
through here whatever the provider.

The gateway stores inbound batches and statuses (the webhook acknowledgement
waits on nothing else; :mod:`.intake` groups concurrent webhooks into one
commit), the workers answer and deliver behind it (:mod:`.workers`,
:mod:`.delivery`), :mod:`.inbox` is the staff's manual responder,
:mod:`.identity` links a guest's addresses across channels, and
:mod:`.verification` holds a public booking until the guest proves the address
it names. :mod:`.account_proof` is here too: proving that a restaurant owns a
channel address is one flow for every provider (a code, or a provider's
ownership check behind the :class:`~.account_proof.Ownership` port), and
what is provider-specific (Meta's Graph check) lives with the provider.

No provider's code is here: providers live in :mod:`saveit.channels` and meet
the core through the ``Sender`` port and the ``WebhookBatch`` model of
:mod:`saveit.domain`. Channel names appear here only as policy that spans
providers (which channels have a 24-hour window, which address is a phone
number, where an email reply threads).
"""
