"""The API's browsable docs: an OpenAPI schema and Swagger UI that needs nothing from the internet."""

import re


def test_swagger_ui_loads_only_our_own_static_files(client, admin_a):
    client.force_login(admin_a)
    page = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui" in source for source in sources)
    assert all(source.startswith("/") for source in sources), sources


def test_the_schema_describes_the_console_api(client, admin_a):
    client.force_login(admin_a)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/api/v1/servers/{server_id}/vms/{vmid}/console/"]
    assert "post" in schema["paths"]["/api/v1/console-sessions/{id}/terminate/"]
