"""Reads of accounts."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from tenants import access

from .models import ApiToken


def api_tokens_of(user) -> QuerySet:
    """A user's own tokens: nobody else's are ever listed to them."""
    return ApiToken.objects.filter(user=user)


def api_token_of(user, token_id) -> ApiToken:
    return get_object_or_404(api_tokens_of(user), pk=token_id)


def users_for_operator(user) -> QuerySet:
    """Every account with how many tenants it belongs to, for platform admins; 403 for anyone else."""
    if not access.is_platform_admin(user):
        raise PermissionDenied("Only platform admins manage accounts.")
    return get_user_model().objects.annotate(tenant_count=Count("memberships")).order_by("username")
