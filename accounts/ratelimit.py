"""A fixed-window counter in the cache (shared by every process when Redis runs), for the account forms that
guess at a secret or send mail: password reset requests, password change attempts."""

from django.core.cache import cache


def rate_limited(key: str, *, limit: int, window: int) -> bool:
    """Count one more use of `key`; True once more than `limit` happened within `window` seconds."""
    cache_key = f"ratelimit:{key}"
    cache.add(cache_key, 0, timeout=window)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window)
        count = 1
    return count > limit
