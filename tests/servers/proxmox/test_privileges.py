"""servers.proxmox.privileges: what a token may do, compared with what the broker needs."""

from servers import proxmox
from servers.proxmox import ProxmoxClient
from tests.servers.proxmox.conftest import connect, ok

VM_USER = {"VM.Audit", "VM.PowerMgmt", "VM.Console"}


def test_a_vm_user_token_has_exactly_what_is_needed():
    report = proxmox.privilege_report({"/vms": {"VM.Audit": 1, "VM.PowerMgmt": 1, "VM.Console": 1}})
    assert report.ok and not report.missing and not report.excessive


def test_missing_privileges_are_named():
    report = proxmox.privilege_report({"/vms/100": {"VM.Audit": 1}, "/": {"Sys.Audit": 1}})
    assert report.missing == ("VM.PowerMgmt", "VM.Console")
    assert report.excessive == ()
    assert "VM.PowerMgmt, VM.Console" in report.summary


def test_an_administrator_token_is_far_more_than_needed():
    admin = {
        "/": dict.fromkeys(
            [
                "VM.Audit",
                "VM.PowerMgmt",
                "VM.Console",
                "Sys.Modify",
                "Permissions.Modify",
                "VM.Allocate",
                "Datastore.Allocate",
                "Sys.Audit",
            ],
            1,
        )
    }
    report = proxmox.privilege_report(admin)
    assert not report.missing
    assert set(report.excessive) == {"Sys.Modify", "Permissions.Modify", "VM.Allocate", "Datastore.Allocate"}
    assert report.far_more_than_needed
    assert "far more privileges than needed (4, among them Datastore.Allocate, Permissions.Modify, " in report.summary


def test_a_summary_names_the_riskiest_privileges_and_counts_the_rest():
    everything = {"/": dict.fromkeys([*proxmox.REQUIRED_PRIVILEGES, *proxmox.HIGH_RISK_PRIVILEGES, "Pool.Audit"], 1)}
    summary = proxmox.privilege_report(everything).summary
    assert (
        "(12, among them Datastore.Allocate, Group.Allocate, Mapping.Modify, Permissions.Modify, Realm.Allocate "
        "and 7 more)" in summary
    )


def test_the_report_comes_from_access_permissions(api, client):
    ok(api, "GET", "/access/permissions", {"/vms": {"VM.Audit": 1, "VM.Console": 1, "Datastore.Audit": 1}})
    report = client.token_privilege_report()
    assert report.missing == ("VM.PowerMgmt",)
    assert report.excessive == ("Datastore.Audit",)
    assert not report.far_more_than_needed


def test_a_full_access_token_is_reported_as_far_more_than_needed(pve_client):
    report = pve_client.token_privilege_report()
    assert not report.missing
    assert report.far_more_than_needed


def test_a_vm_user_token_has_just_what_is_needed(pve):
    pve.add_token("nexus@pve!broker", "vm-user-secret", VM_USER)
    with ProxmoxClient(connect(pve, token_id="nexus@pve!broker", token_secret="vm-user-secret")) as client:
        report = client.token_privilege_report()
    assert report.ok, report.summary
