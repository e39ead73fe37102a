"""What every API view shares: one error format, `{"detail": ..., "code": ...}` (plus `errors` per field for
invalid input, whether a serializer or a service's model checks (Django's ValidationError) found it).

It imports no app of ours: an app whose own errors must read as API errors registers how, in its
`AppConfig.ready` (`translate_errors`).
"""

from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError

_translations: list[tuple[type[Exception], Callable[[Exception], ApplicationError]]] = []


def translate_errors(kind: type[Exception], translate: Callable[[Exception], ApplicationError]) -> None:
    """Answer API errors of `kind` as the ApplicationError `translate` makes of them."""
    _translations.append((kind, translate))


def error_body(detail: str, code: str) -> dict:
    return {"detail": detail, "code": code}


def exception_handler(exc, context):
    for kind, translate in _translations:
        if isinstance(exc, kind):
            exc = translate(exc)
            break
    if isinstance(exc, ApplicationError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return Response(error_body(exc.message, exc.code), status=exc.status, headers=headers)
    if isinstance(exc, DjangoValidationError):  # a service's checks of a model, field by field, as a serializer's
        exc = ValidationError(as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        response.data = error_body(str(data["detail"]), getattr(data["detail"], "code", "error"))
    else:  # a serializer's errors, per field
        response.data = {**error_body("Invalid input.", "invalid"), "errors": data}
    return response
