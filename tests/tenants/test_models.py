import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from tenants.models import Membership, Tenant
from tests.conftest import make_user


def test_tenant_defaults_match_the_product_limits(db):
    tenant = Tenant.objects.create(name="Acme", slug="acme")
    assert tenant.max_servers == 50
    assert tenant.is_active
    assert "start" in tenant.allowed_power_actions and "reset" in tenant.allowed_power_actions


@pytest.mark.parametrize("slug", ["Acme", "acme corp", "-acme", "acme-", "ac/me", "a" * 64, "acme_1"])
def test_unsafe_slugs_are_refused(db, slug):
    with pytest.raises(ValidationError) as error:
        Tenant(name="Acme", slug=slug).full_clean()
    assert "slug" in error.value.message_dict


def test_unknown_power_actions_are_refused(db):
    with pytest.raises(ValidationError) as error:
        Tenant(name="Acme", slug="acme", allowed_power_actions=["start", "destroy"]).full_clean()
    assert "destroy" in str(error.value)


def test_a_user_has_one_membership_per_tenant(tenant_a):
    user = make_user("someone")
    Membership.objects.create(user=user, tenant=tenant_a, role="viewer")
    with pytest.raises(IntegrityError):
        Membership.objects.create(user=user, tenant=tenant_a, role="admin")
