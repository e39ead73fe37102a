"""Reading a CSV file of servers: the columns, the limits, and each row with the line it starts on.

UTF-8 with or without a byte order mark (what spreadsheets save), comma or semicolon as the separator (the one
the header row uses), one header row naming the columns in any order. Quoted fields may span lines (a CA
certificate), so a row's line is the line it starts on.
"""

import csv
import io
from dataclasses import dataclass

from nexus.errors import ApplicationError

COLUMNS = (
    "name",
    "host",
    "port",
    "token_id",
    "token_secret",
    "tls_mode",
    "fingerprint",
    "ca_pem",
    "tailscale_hostname",
    "connection_timeout",
)
REQUIRED_COLUMNS = ("name", "host", "token_id", "token_secret")
MAX_BYTES = 1024 * 1024
# As many servers as a tenant may ever have (Tenant.max_servers is at most 500).
MAX_ROWS = 500

TEMPLATE = (
    "name,host,port,token_id,token_secret,tls_mode,fingerprint,ca_pem,tailscale_hostname,connection_timeout\r\n"
    "pve-example,pve.example.com,8006,nexus@pve!broker,00000000-0000-0000-0000-000000000000,fingerprint,"
    + ":".join(["AB"] * 32)
    + ",,,10\r\n"
)


@dataclass(frozen=True)
class CsvRow:
    line: int  # the line of the file the row starts on (the header is line 1)
    values: dict[str, str]  # column -> its text, stripped; "" where the row leaves it empty
    problem: str = ""  # what makes the row unreadable as a whole (a wrong number of fields)


def _refuse(message: str, code: str, status: int = 400) -> ApplicationError:
    return ApplicationError(message, status=status, code=code)


def csv_rows(content: bytes) -> list[CsvRow]:
    """The rows of a CSV file of servers; an ApplicationError that says why for a file that cannot be read."""
    if len(content) > MAX_BYTES:
        raise _refuse(
            f"The file is {len(content) / 1024:.0f} KiB; at most {MAX_BYTES // 1024} KiB are accepted. Split it.",
            "file_too_large",
            413,
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _refuse(
            f"The file is not UTF-8 text (byte {error.start + 1} is not): save it as “CSV UTF-8”.", "not_utf8"
        ) from None
    if "\x00" in text:
        raise _refuse("The file holds NUL bytes: it is not a CSV text file.", "not_csv")
    if not text.strip():
        raise _refuse("The file is empty: it needs a header row and a row per server.", "empty_file")
    first_line = text.lstrip().splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [column.strip().lower() for column in next(reader)]
        _check_header(header)
        rows: list[CsvRow] = []
        line = reader.line_num + 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # blank lines
            if len(rows) == MAX_ROWS:
                raise _refuse(f"The file has more than {MAX_ROWS} servers; split it.", "too_many_rows")
            values = dict(zip(header, (cell.strip() for cell in record), strict=False))
            problem = ""
            if len(record) != len(header):
                problem = f"It has {len(record)} fields where the header has {len(header)} columns."
            rows.append(CsvRow(start, {column: values.get(column, "") for column in COLUMNS}, problem))
    except csv.Error as error:
        raise _refuse(f"Line {reader.line_num}: the file is not valid CSV ({error}).", "not_csv") from None
    if not rows:
        raise _refuse("The file has a header row but no servers.", "empty_file")
    return rows


def _check_header(header: list[str]) -> None:
    unknown = [column for column in header if column not in COLUMNS]
    if unknown:
        raise _refuse(
            f"Unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: the columns are "
            f"{', '.join(COLUMNS)}.",
            "bad_header",
        )
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise _refuse(f"The header names {', '.join(repeated)} more than once.", "bad_header")
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise _refuse(
            f"The header row lacks {', '.join(missing)}: every server needs {', '.join(REQUIRED_COLUMNS)}.",
            "bad_header",
        )
