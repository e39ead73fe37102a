"""What every API view shares: one error format, `{"detail": ..., "code": ...}` (plus `errors` per field for
invalid input).

It imports no app of ours: an app whose own errors must read as API errors registers how, in its
`AppConfig.ready` (`translate_errors`).
"""

from collections.abc import Callable

from rest_framework.response import Response
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
        return Response(error_body(exc.message, exc.code), status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        response.data = error_body(str(data["detail"]), getattr(data["detail"], "code", "error"))
    else:  # a serializer's errors, per field
        response.data = {**error_body("Invalid input.", "invalid"), "errors": data}
    return response
