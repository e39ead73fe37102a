"""Request helpers the apps share; this module imports no app of ours."""


def client_ip(request) -> str | None:
    """The peer address as the ASGI server reports it (daphne --proxy-headers applies X-Forwarded-For)."""
    return request.META.get("REMOTE_ADDR") or None
