from tenants import roles
from tenants.roles import ROLE_PERMISSIONS, Role


def test_viewers_only_read():
    assert ROLE_PERMISSIONS[Role.VIEWER] == {roles.VIEW_TENANT, roles.VIEW_SERVER}


def test_managers_run_servers_and_guests_and_read_members():
    perms = ROLE_PERMISSIONS[Role.MANAGER]
    assert {
        roles.ADD_SERVER,
        roles.CHANGE_SERVER,
        roles.DELETE_SERVER,
        roles.POWER_GUESTS,
        roles.OPEN_CONSOLE,
        roles.EXPLORE_API,
    } <= perms
    assert roles.VIEW_MEMBERS in perms
    assert roles.MANAGE_MEMBERS not in perms
    assert roles.CHANGE_TENANT not in perms


def test_admins_also_manage_members_settings_and_read_the_audit_and_node_logs():
    assert ROLE_PERMISSIONS[Role.ADMIN] == ROLE_PERMISSIONS[Role.MANAGER] | {
        roles.MANAGE_MEMBERS,
        roles.CHANGE_TENANT,
        roles.VIEW_AUDIT,
        roles.MANAGE_CONSOLES,
        roles.READ_NODE_LOGS,
    }


def test_every_role_permission_is_a_real_django_permission(db):
    from django.contrib.auth.models import Permission

    known = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}
    for perms in ROLE_PERMISSIONS.values():
        assert perms <= known


def test_tenants_offer_exactly_the_power_actions_proxmox_has():
    from servers import proxmox

    assert set(roles.POWER_ACTIONS) == set(proxmox.POWER_ACTIONS)
