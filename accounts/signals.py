"""What accounts tells the apps above it (which it cannot import)."""

from django.dispatch import Signal

# A user's password was changed or reset: every login but the one that changed it has ended, and
# console.receivers ends the consoles they opened. Sent once committed with `user`, `kept_session_key` (the key the
# changing login had; None after a reset: every login ended) and `new_session_key` (the key it got instead).
password_changed = Signal()
