"""Settings, read once from ``SAVEIT_*`` environment variables by the composition root.

Anyone may import this package (it sits below everything but the domain):
``from saveit.config import Settings``. The knobs are grouped by concern in
:mod:`.storage`, :mod:`.events`, :mod:`.channels`, :mod:`.guests`,
:mod:`.security` and :mod:`.operations`; :mod:`.settings` joins them.
"""

from saveit.config.exposure import (
    ExposedDevelopmentSecret,
    is_loopback,
    refuse_exposed_development_secret,
)
from saveit.config.security import MIN_SECRET_BYTES, Environment
from saveit.config.settings import Settings, load_settings
from saveit.config.storage import normalise_database_url

__all__ = [
    "MIN_SECRET_BYTES",
    "Environment",
    "ExposedDevelopmentSecret",
    "Settings",
    "is_loopback",
    "load_settings",
    "normalise_database_url",
    "refuse_exposed_development_secret",
]
