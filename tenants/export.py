"""The audit log as CSV, streamed: rows are written as the timeline is read, never all at once."""

import csv
import json

from django.http import StreamingHttpResponse

from .timeline import timeline_stream

COLUMNS = ["time", "actor", "actor deleted", "tenant", "action", "target", "outcome", "address", "details"]
# A cell a spreadsheet would run as a formula (CSV injection); a leading apostrophe makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


def audit_csv_response(user, filters) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(COLUMNS)
        for entry in timeline_stream(user, filters):
            row = [
                entry.at.isoformat(),
                entry.actor,
                "yes" if entry.actor_deleted else "",
                entry.tenant,
                entry.action,
                entry.target,
                entry.outcome,
                entry.ip_address,
                json.dumps(entry.details, sort_keys=True, default=str) if entry.details else "",
            ]
            yield writer.writerow([neutralise(cell) for cell in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response["Cache-Control"] = "no-store"
    return response
