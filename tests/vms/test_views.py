import pytest
from django.urls import reverse

from tests.conftest import make_server
from vms.services import guest_grant_set


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


# ------------------------------------------------------------------------------------------------ the Guests page

GUESTS = reverse("vms:guests")
HTMX = {"HTTP_HX_REQUEST": "true"}


def guests_page(client, user, **query):
    client.force_login(user)
    response = client.get(GUESTS, query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_guests_page_lists_the_current_tenants_guests_with_meters(client, sim_server, manager_a):
    html = guests_page(client, manager_a)
    assert "web-01" in html and "dns-ct" in html and "pve-sim" in html
    assert '<span class="status template">template</span>' in html
    assert 'aria-label="CPU"' in html and 'aria-label="Memory"' in html
    assert "7 guests, 4 running" in html


def test_table_or_cards_is_remembered(client, sim_server, manager_a):
    assert 'class="card guest guest-card' not in guests_page(client, manager_a)
    assert 'class="card guest guest-card' in guests_page(client, manager_a, view="cards")
    assert 'class="card guest guest-card' in guests_page(client, manager_a)
    assert "<table" in guests_page(client, manager_a, view="table")


def test_filters_and_sort_narrow_the_page(client, sim_server, manager_a):
    html = guests_page(client, manager_a, type="lxc", sort="-name")
    assert html.index("dns-ct") < html.index("build-ct") and "web-01" not in html
    assert "No guest matches" in guests_page(client, manager_a, search="nothing-like-this")


def test_an_unreachable_server_is_shown_with_the_reason(client, sim_server, tenant_a, viewer_a):
    make_server(tenant_a, "pve-gone", host="127.0.0.1", port=9)
    html = guests_page(client, viewer_a)
    assert "pve-gone could not be read" in html and "Cannot connect to pve-gone" in html
    assert "web-01" in html


def test_a_viewer_gets_no_action_buttons(client, sim_server, viewer_a):
    html = guests_page(client, viewer_a)
    assert 'name="action"' not in html and reverse("console:page", args=[sim_server.pk, 100]) not in html


def test_a_manager_gets_the_actions_the_guest_allows(client, sim_server, manager_a):
    html = guests_page(client, manager_a)
    row = html[html.index('id="guest-' + f'{sim_server.pk}-102"') :]
    row = row[: row.index("</tr>")]
    assert 'value="start"' in row and 'value="shutdown"' not in row
    assert 'data-confirm="Stop web-01 at once' in html and 'data-confirm="Reset web-01 at once' in html


def test_someone_without_a_tenant_is_told_so(client, outsider):
    assert "No tenants yet" in guests_page(client, outsider)


def test_who_holds_single_guests_sees_exactly_those(client, sim_server, outsider):
    guest_grant_set(user=outsider, server=sim_server, vmid=102, power=True)
    html = guests_page(client, outsider)
    assert "db-01" in html and "web-01" not in html and "1 guest, 0 running" in html
    assert 'value="start"' in html


# ------------------------------------------------------------------------------------------- quick actions (htmx)


def quick(client, user, server, vmid, action, **extra):
    client.force_login(user)
    url = reverse("vms:guest-power", args=[server.pk, vmid])
    return client.post(url, {"action": action, "view": "table", "with_server": "1", **extra}, **HTMX)


def test_a_quick_action_answers_with_the_row_showing_the_task(client, sim_server, manager_a, pve):
    pve.task_delay = 30
    response = quick(client, manager_a, sim_server, 102, "start")
    html = response.content.decode()
    assert response.status_code == 200 and html.strip().startswith("<tr")
    assert 'hx-trigger="every 1s"' in html and "Starting…" in html
    assert "starting VM 102 (db-01)" in html
    assert 'name="action"' not in html  # no other action while the task runs


def test_the_task_poll_gives_the_new_state_once_the_task_ended(client, sim_server, manager_a, pve):
    response = quick(client, manager_a, sim_server, 102, "start")
    poll = response.content.decode()
    assert 'hx-trigger="every 1s"' in poll  # shown as running once, even when it ended at once
    upid = poll.split(f"/servers/{sim_server.pk}/tasks/")[1].split("/")[0]
    html = client.get(reverse("vms:task", args=[sim_server.pk, upid]), {"view": "cards"}, **HTMX).content.decode()
    assert html.strip().startswith("<article") and '<span class="status running">running</span>' in html
    assert "every 1s" not in html and 'value="shutdown"' in html


def test_a_failed_task_shows_proxmoxs_reason(client, sim_server, manager_a, pve):
    pve.faults.task_error = "start failed: QEMU exited with code 1"
    poll = quick(client, manager_a, sim_server, 102, "start").content.decode()
    upid = poll.split(f"/servers/{sim_server.pk}/tasks/")[1].split("/")[0]
    html = client.get(reverse("vms:task", args=[sim_server.pk, upid]), **HTMX).content.decode()
    assert "Start failed: start failed: QEMU exited with code 1" in html
    assert '<span class="status stopped">stopped</span>' in html


def test_a_refused_action_answers_with_the_row_and_the_reason(client, sim_server, viewer_a, manager_a):
    response = quick(client, viewer_a, sim_server, 102, "start")
    assert response.status_code == 403 and "may see this guest but not" in response.content.decode()
    response = quick(client, manager_a, sim_server, 100, "start")
    assert response.status_code == 409 and "web-01 is already running." in response.content.decode()


def test_without_javascript_a_quick_action_goes_back_with_a_message(client, sim_server, manager_a, pve):
    client.force_login(manager_a)
    url = reverse("vms:guest-power", args=[sim_server.pk, 102])
    response = client.post(url, {"action": "start", "next": "/guests/?type=qemu"}, follow=True)
    assert response.redirect_chain == [("/guests/?type=qemu", 302)]
    assert "Starting guest 102" in response.content.decode()
    assert pve.guest(102).running
    response = client.post(url, {"action": "start", "next": "https://elsewhere.example/"}, follow=True)
    assert response.redirect_chain == [(GUESTS, 302)] and "db-01 is already running." in response.content.decode()


# --------------------------------------------------------------------------------------------------- server page


def test_the_server_page_shows_the_same_table_without_the_server_column(client, sim_server, manager_a):
    html = page(client, manager_a, sim_server).content.decode()
    assert 'name="action" value="start"' in html and ">Server</a></th>" not in html
    assert f"{sim_server.host}:{sim_server.port}" in html


def test_the_server_page_shows_single_guest_holders_their_guests_and_the_name_only(client, sim_server, outsider):
    guest_grant_set(user=outsider, server=sim_server, vmid=102)
    html = page(client, outsider, sim_server).content.decode()
    assert "db-01" in html and "web-01" not in html
    assert sim_server.host not in html and "Response time" not in html


def test_a_viewer_does_not_see_how_the_server_is_reached(client, sim_server, viewer_a):
    html = page(client, viewer_a, sim_server).content.decode()
    assert f"{sim_server.host}:{sim_server.port}" not in html and "Response time" in html


def test_a_server_that_stops_answering_during_a_task_says_so_in_place_of_the_row(client, sim_server, manager_a, pve):
    pve.task_delay = 30
    poll = quick(client, manager_a, sim_server, 102, "start").content.decode()
    upid = poll.split(f"/servers/{sim_server.pk}/tasks/")[1].split("/")[0]
    pve.faults.http_500 = True
    response = client.get(reverse("vms:task", args=[sim_server.pk, upid]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 502 and f'id="guest-{sim_server.pk}-102"' in html
    assert "no quorum" in html and "every 1s" not in html


def test_the_guests_page_follows_its_tenants_events_and_refetches_without_asking_proxmox_anew(
    client, sim_server, manager_a
):
    html = guests_page(client, manager_a, fresh=1, type="qemu")
    assert 'data-live-stream="/ws/tenants/tenant-a/events/"' in html
    assert 'hx-get="/guests/?type=qemu" hx-select="#guest-list"' in html  # the live refetch drops fresh=1
    assert 'data-live-hold=".guest-busy"' in html
