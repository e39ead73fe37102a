"""Signals the apps send one another across their layers; this module imports no app."""

from django.dispatch import Signal

# A user's password was changed (accounts), reset by mail (accounts) or set in the Django admin (tenants): every
# login but the one that changed it has ended, and
# console.receivers ends the consoles they opened. Sent once committed with `user`, `kept_session_key` (the key the
# changing login had; None after a reset: every login ended) and `new_session_key` (the key it got instead).
password_changed = Signal()
