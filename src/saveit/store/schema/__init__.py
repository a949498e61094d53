"""The relational schema, shared by the app and by Alembic's migrations: one
``metadata``, its tables defined by area (:mod:`.core`: restaurants, bookings,
the outbox; :mod:`.messaging`: the guest channels; :mod:`.guest_data`: erasure,
holds and the waitlist; :mod:`.analytics`: surveys and the figures' counters) and
all importable from here."""

from __future__ import annotations

from saveit.store.schema.analytics import analytics_day_state as analytics_day_state
from saveit.store.schema.analytics import analytics_days as analytics_days
from saveit.store.schema.analytics import analytics_handoffs as analytics_handoffs
from saveit.store.schema.analytics import booking_refusals as booking_refusals
from saveit.store.schema.analytics import guest_surveys as guest_surveys
from saveit.store.schema.analytics import survey_opt_outs as survey_opt_outs
from saveit.store.schema.analytics import survey_settings as survey_settings
from saveit.store.schema.core import Id as Id
from saveit.store.schema.core import api_tokens as api_tokens
from saveit.store.schema.core import combination_tables as combination_tables
from saveit.store.schema.core import combinations as combinations
from saveit.store.schema.core import dining_tables as dining_tables
from saveit.store.schema.core import guests as guests
from saveit.store.schema.core import idempotency_keys as idempotency_keys
from saveit.store.schema.core import metadata as metadata
from saveit.store.schema.core import outbox as outbox
from saveit.store.schema.core import processed_events as processed_events
from saveit.store.schema.core import reservation_log as reservation_log
from saveit.store.schema.core import reservation_tables as reservation_tables
from saveit.store.schema.core import reservations as reservations
from saveit.store.schema.core import restaurants as restaurants
from saveit.store.schema.core import slot_covers as slot_covers
from saveit.store.schema.core import special_dates as special_dates
from saveit.store.schema.core import table_claims as table_claims
from saveit.store.schema.core import weekly_services as weekly_services
from saveit.store.schema.guest_data import booking_holds as booking_holds
from saveit.store.schema.guest_data import erasure_in_progress as erasure_in_progress
from saveit.store.schema.guest_data import guest_erasures as guest_erasures
from saveit.store.schema.guest_data import waitlist_entries as waitlist_entries
from saveit.store.schema.guest_data import waitlist_log as waitlist_log
from saveit.store.schema.messaging import channel_accounts as channel_accounts
from saveit.store.schema.messaging import channel_identities as channel_identities
from saveit.store.schema.messaging import channel_messages as channel_messages
from saveit.store.schema.messaging import conversations as conversations
from saveit.store.schema.messaging import early_statuses as early_statuses
from saveit.store.schema.messaging import link_codes as link_codes
from saveit.store.schema.messaging import notifications as notifications
from saveit.store.schema.staff import staff_accounts as staff_accounts
from saveit.store.schema.staff import staff_memberships as staff_memberships
from saveit.store.schema.staff import staff_sessions as staff_sessions
