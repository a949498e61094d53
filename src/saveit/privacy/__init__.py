"""A guest's rights over their data: a copy of it all, erasure, and retention limits."""

from saveit.privacy.service import Erasure, GuestPrivacy, Purged

__all__ = ["Erasure", "GuestPrivacy", "Purged"]
