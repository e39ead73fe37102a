"""/design/: every component of the design system, live, for platform admins."""

import pytest
from django.urls import reverse


def test_platform_admins_see_the_components(client, platform_admin):
    client.force_login(platform_admin)
    html = client.get(reverse("design")).content.decode()
    for component in (
        'class="btn btn-primary"',
        'class="status running"',
        'class="list list-cards"',
        "<meter ",
        'class="two-pane"',
        'data-confirm="',
        'role="tablist"',
        "data-chart=",
    ):
        assert component in html


@pytest.mark.parametrize("user", ["admin_a", None])
def test_others_are_sent_to_the_admin_login(client, request, user):
    if user:
        client.force_login(request.getfixturevalue(user))
    response = client.get(reverse("design"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
