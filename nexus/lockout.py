"""The login rate limit: django-axes, locking out by user name, and by address only at a much higher count.

- A user name is locked after AXES_FAILURE_LIMIT failures (5) within the cool-off, from any address; a
  successful login clears that user name's failures only, so logging in to one's own account never buys
  guesses at another.
- An address is locked after LOGIN_ADDRESS_FAILURE_LIMIT failures (50) for any names within the cool-off:
  enough that a school or office behind one NAT is not locked out of its own correct passwords by a few
  typos or a guessed name, while one machine still cannot spray guesses across every account.
"""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class LoginLockout(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        # axes decides every lockout by comparing this count with its one limit: an address over its own
        # limit counts as a user name at the limit.
        failures = super().get_failures(request, credentials)
        if self._address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures

    def _address_failures(self, request) -> int:
        address = getattr(request, "axes_ip_address", None)
        if not address:
            return 0
        recent = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=get_cool_off_threshold(request))
        return recent.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
