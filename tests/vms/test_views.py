import pytest
from django.urls import reverse


def page(client, user, server):
    client.force_login(user)
    return client.get(reverse("vms:server", args=[server.pk]))


@pytest.mark.parametrize("user", ["outsider", "admin_b"])
def test_other_tenants_do_not_find_the_server(request, client, sim_server, user):
    assert page(client, request.getfixturevalue(user), sim_server).status_code == 404


def test_a_viewer_sees_the_guests_without_console_buttons(client, sim_server, viewer_a):
    html = page(client, viewer_a, sim_server).content.decode()
    assert "web-01" in html and "dns-ct" in html
    assert reverse("console:page", args=[sim_server.pk, 100]) not in html


def test_a_manager_gets_console_buttons_for_running_guests_only(client, sim_server, manager_a):
    html = page(client, manager_a, sim_server).content.decode()
    assert reverse("console:page", args=[sim_server.pk, 100]) in html
    assert reverse("console:page", args=[sim_server.pk, 102]) not in html  # db-01 is stopped


def test_an_unreachable_server_shows_why(client, sim_server, manager_a):
    sim_server.port = 9
    sim_server.save()
    response = page(client, manager_a, sim_server)
    assert response.status_code == 200
    assert "Cannot connect to 127.0.0.1:9" in response.content.decode()
