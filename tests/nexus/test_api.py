"""Every API error has one shape, and hostile input is a 400 or a 404, never a 500."""

import io
import json

import pytest
from django.urls import reverse
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings

from nexus.parsers import JSONParser


@pytest.mark.parametrize("session_id", ["abc", "%20", "1e3", "-1", "99999999999999999999999"])
def test_a_session_id_that_is_no_number_is_a_404_for_every_verb(client, admin_a, session_id):
    client.force_login(admin_a)
    for response in [
        client.get(f"/api/v1/console-sessions/{session_id}/"),
        client.post(f"/api/v1/console-sessions/{session_id}/terminate/"),
    ]:
        assert response.status_code == 404
        assert response.json() == {"detail": "No such console session.", "code": "not_found"}


def test_a_json_body_nested_too_deeply_is_a_400_for_every_api_view():
    body = "[" * 5000 + "]" * 5000
    with pytest.raises(RecursionError):  # why: DRF's own parser lets it through as a 500
        parsers.JSONParser().parse(io.BytesIO(body.encode()), "application/json", {})
    with pytest.raises(ParseError):
        JSONParser().parse(io.BytesIO(body.encode()), "application/json", {})
    assert api_settings.DEFAULT_PARSER_CLASSES[0] is JSONParser


@pytest.mark.parametrize("url", ["/api/v1/console-sessions/?tenant=%00", "/console/sessions/?tenant=%00", "/?x%00=1"])
def test_a_nul_byte_in_a_parameter_is_a_400(client, admin_a, url):
    client.force_login(admin_a)
    response = client.get(url)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response.json()["code"] == "invalid"


def test_a_nul_byte_in_a_form_field_is_a_400(client):
    response = client.post(reverse("login"), {"username": "a\0b", "password": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url, words",
    [
        ("/api/v1/servers/999999/", "No such Proxmox server."),
        ("/api/v1/servers/999999/vms/", "No such Proxmox server."),
        ("/api/v1/console-sessions/999999/", "No such console session."),
    ],
)
def test_a_404_names_the_kind_of_object_and_nothing_more(client, admin_b, server_a, url, words):
    client.force_login(admin_b)
    other_tenants = client.get(url.replace("999999", str(server_a.pk)))
    missing = client.get(url)
    assert missing.status_code == other_tenants.status_code == 404
    assert missing.json() == other_tenants.json() == {"detail": words, "code": "not_found"}


def test_refusals_have_the_same_shape(client, viewer_a, server_a):
    assert client.get("/api/v1/servers/").json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    client.force_login(viewer_a)
    response = client.post(reverse("api:guest-console", args=[server_a.pk, 100]))
    assert response.status_code == 403
    assert set(json.loads(response.content)) == {"detail", "code"}


@pytest.mark.parametrize("path", ["/api/v1/nothing/", "/api/v2/", "/api/v1/servers/1/vms/abc/"])
def test_a_path_no_api_route_takes_is_a_json_404(client, admin_a, path):
    client.force_login(admin_a)
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_method_an_api_route_does_not_take_is_a_json_405(client, admin_a):
    client.force_login(admin_a)
    response = client.delete("/api/v1/servers/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_pages_keep_the_products_404(client, admin_a):
    client.force_login(admin_a)
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]
