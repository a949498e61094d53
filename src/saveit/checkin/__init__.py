"""Signed QR check-in: tokens, their QR images, and the scan at the door."""

from saveit.checkin.service import CheckIn
from saveit.checkin.tokens import CheckInToken, Keyring

__all__ = ["CheckIn", "CheckInToken", "Keyring"]
