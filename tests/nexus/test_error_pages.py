"""With DEBUG off, errors show the product's own pages (templates/404.html, 403.html, 500.html); under /api/ JSON.
(A database outage's 503: tests/console/test_faults.py.)"""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory, override_settings
from django.urls import get_resolver


@override_settings(DEBUG=False)
@pytest.mark.parametrize("user", [None, "admin_a"])
def test_a_missing_page_is_the_products_404(client, request, tenant_a, user):
    if user:
        client.force_login(request.getfixturevalue(user))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert '<header class="header">' in html and 'href="/static/css/nexus.css"' in html
    assert ('class="header-nav"' in html) is bool(user)


def test_a_permission_error_is_the_products_403(rf_request):
    response = get_resolver().resolve_error_handler(403)(rf_request, exception=PermissionDenied())
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_a_server_error_is_the_products_500_without_a_request_context(rf_request):
    # Django renders 500.html with an empty context: no user, no request, no context processors.
    response = get_resolver().resolve_error_handler(500)(rf_request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert '<header class="header">' in html and 'href="/static/css/nexus.css"' in html
    assert 'class="header-nav"' not in html


def test_a_server_error_of_the_api_is_json_in_its_error_shape():
    response = get_resolver().resolve_error_handler(500)(RequestFactory().get("/api/v1/servers/"))
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "detail": "The server failed to answer this request.",
        "code": "server_error",
    }


@pytest.fixture
def rf_request():
    return RequestFactory().get("/somewhere/")
