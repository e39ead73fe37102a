"""Request checks that hold for every view."""

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpResponseBadRequest, JsonResponse

from .api import error_body
from .http import client_ip

API_PREFIX = "/api/"


def reject_nul_bytes(get_response):
    """A NUL byte in a query parameter or form field is a 400: no view can use it, and PostgreSQL refuses it."""

    def middleware(request):
        fields = [*request.GET.lists()]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            fields += request.POST.lists()
        if any("\0" in key or any("\0" in value for value in values) for key, values in fields):
            message = "A parameter contains a NUL character."
            if request.path.startswith(API_PREFIX):
                return JsonResponse(error_body(message, "invalid"), status=400)
            return HttpResponseBadRequest(message)
        return get_response(request)

    return middleware


class AuditedChanges(AuditlogMiddleware):
    """django-auditlog's middleware, recording the client address as everything else does (nexus.http): its own
    takes the leftmost X-Forwarded-For, which the client writes."""

    @staticmethod
    def _get_remote_addr(request):
        return client_ip(request)
