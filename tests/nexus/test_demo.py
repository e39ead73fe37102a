"""The demo: erin, the customer, holds her own guests on acme-pve-2 and sees nothing else."""

import pytest
from django.contrib.auth import get_user_model

from nexus.demo import demo_seed
from servers.pvesim import Simulator
from vms.selectors import guests_for_user


@pytest.fixture(scope="module")
def three_clusters():
    with Simulator({"cluster": {"task_delay": 0}}, servers=3) as simulator:
        yield simulator


def test_erin_sees_exactly_her_guests_with_what_she_may_do(db, three_clusters):
    demo_seed(simulator=three_clusters)
    demo_seed(simulator=three_clusters)  # seeding again changes nothing
    erin = get_user_model().objects.get(username="erin")
    listing = guests_for_user(erin)
    assert [(guest.server.name, guest.vmid) for guest in listing.guests] == [
        ("acme-pve-2", 101),
        ("acme-pve-2", 102),
        ("acme-pve-2", 200),
    ]
    actions = {guest.vmid: guest.actions for guest in listing.guests}
    assert actions[101]["console"] and actions[101]["shutdown"] and actions[102]["start"]
    assert not any(actions[200].values())
    assert listing.errors == []
