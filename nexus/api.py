"""What every API view shares: one error format, `{"detail": ..., "code": ...}`.

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


def exception_handler(exc, context):
    for kind, translate in _translations:
        if isinstance(exc, kind):
            exc = translate(exc)
            break
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    return drf_exception_handler(exc, context)
