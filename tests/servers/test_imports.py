"""servers.imports: a CSV file of servers read as spreadsheets save it, each row with the line it starts on, and a
clear refusal for a file that cannot be read."""

import pytest

from nexus.errors import ApplicationError
from servers import imports

HEADER = "name,host,token_id,token_secret"


def test_rows_come_with_their_lines_and_every_column():
    [first, second] = imports.csv_rows(f"{HEADER}\na,pve-a,x@pve!tok,s1\n\nb,pve-b,x@pve!tok,s2\n".encode())
    assert (first.line, second.line) == (2, 4)  # the blank line 3 is skipped, not counted away
    assert first.values == {
        **dict.fromkeys(imports.COLUMNS, ""),
        "name": "a",
        "host": "pve-a",
        "token_id": "x@pve!tok",
        "token_secret": "s1",
    }


def test_a_byte_order_mark_semicolons_and_any_column_order_are_understood():
    content = "\ufefftoken_secret;Name;HOST;token_id\r\ns1;a;pve-a;x@pve!tok\r\n".encode()
    [row] = imports.csv_rows(content)
    assert (row.values["name"], row.values["host"], row.values["token_secret"]) == ("a", "pve-a", "s1")


def test_a_quoted_field_may_span_lines_and_the_row_keeps_the_line_it_starts_on():
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    content = f'{HEADER},ca_pem\na,pve-a,x@pve!tok,s1,"{pem}"\nb,pve-b,x@pve!tok,s2,\n'.encode()
    first, second = imports.csv_rows(content)
    assert first.values["ca_pem"] == pem
    assert (first.line, second.line) == (2, 5)


def test_a_row_with_the_wrong_number_of_fields_says_so():
    [row] = imports.csv_rows(f"{HEADER}\na,pve-a,x@pve!tok\n".encode())
    assert row.problem == "It has 3 fields where the header has 4 columns."


@pytest.mark.parametrize(
    "content, code, words",
    [
        (b"", "empty_file", "empty"),
        (HEADER.encode() + b"\n", "empty_file", "no servers"),
        (b"name,host,token_id,token_secret,colour\na,b,c,d,e\n", "bad_header", "Unknown column 'colour'"),
        (b"name,host,name,token_id,token_secret\n", "bad_header", "names name more than once"),
        (b"name,host\na,b\n", "bad_header", "lacks token_id, token_secret"),
        (HEADER.encode() + b'\na,b,c,"d\n', "not_csv", "not valid CSV"),
        ("name,host,token_id,token_secret\nä,b,c,d\n".encode("latin-1"), "not_utf8", "not UTF-8"),
        (b"name,host\x00,token_id,token_secret\n", "not_csv", "NUL bytes"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(content, code, words):
    with pytest.raises(ApplicationError) as refused:
        imports.csv_rows(content)
    assert refused.value.code == code and words in refused.value.message


def test_the_file_size_and_row_count_are_limited():
    with pytest.raises(ApplicationError) as refused:
        imports.csv_rows(b"x" * (imports.MAX_BYTES + 1))
    assert refused.value.status == 413 and "at most 1024 KiB" in refused.value.message
    rows = "".join(f"s{n},pve,x@pve!tok,s\n" for n in range(imports.MAX_ROWS + 1))
    with pytest.raises(ApplicationError) as refused:
        imports.csv_rows(f"{HEADER}\n{rows}".encode())
    assert refused.value.code == "too_many_rows" and "more than 500 servers" in refused.value.message


def test_the_template_is_a_file_the_import_reads():
    [row] = imports.csv_rows(imports.TEMPLATE.encode())
    assert row.values["name"] == "pve-example" and row.values["tls_mode"] == "fingerprint" and not row.problem
