"""The one place that answers "what may this user see or do", for every tenant-scoped model.

Like NetBox's `RestrictedQuerySet.restrict(user, action)`, it knows no feature model. A model opts in by
using `RestrictedQuerySet` and declaring two paths:

- `tenant_path`: from the model to its tenant ("tenant", "server__tenant"; "" for the Tenant itself);
- `grant_path`: to the object single grants are made on with django-guardian ("" for the model itself,
  "server" for a server's records), or None where nothing is granted one by one.

Platform admins (active superusers) may do everything. Anyone else holds the permissions of their role in
each active tenant they belong to (tenants.roles), plus what was granted to them on single objects.
"""

from functools import reduce
from operator import or_

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_objects_for_user, get_perms

from .roles import ALL_PERMISSIONS, GRANTABLE, ROLE_PERMISSIONS, roles_with


def is_platform_admin(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def _is_ordinary_user(user) -> bool:
    return bool(user.is_authenticated and user.is_active)


def view_permission(model) -> str:
    """The permission that lets a user see objects of `model` at all."""
    return getattr(model, "view_permission", None) or f"{model._meta.app_label}.view_{model._meta.model_name}"


def _related_model(model, path: str):
    for name in filter(None, path.split("__")):
        model = model._meta.get_field(name).related_model
    return model


def _follow(obj, path: str):
    return reduce(getattr, filter(None, path.split("__")), obj)


def _lookup(path: str, rest: str) -> str:
    return f"{path}__{rest}" if path else rest


def _granted_perms(grant_model, perm: str) -> list[str]:
    """The guardian permissions on `grant_model` objects that give `perm`: any grant lets the user see."""
    own = sorted(p for p in GRANTABLE if p.split(".")[0] == grant_model._meta.app_label)
    if perm == view_permission(grant_model):
        return own
    return [perm] if perm in own else []


def restrict(queryset: QuerySet, user, perm: str) -> QuerySet:
    """The objects of `queryset` on which the user holds `perm`, through their role or a single grant."""
    if is_platform_admin(user):
        return queryset
    if not _is_ordinary_user(user):
        return queryset.none()
    model = queryset.model
    tenant_path = model.tenant_path
    active = Q(**{_lookup(tenant_path, "is_active"): True})
    role_tenants = user.memberships.filter(role__in=roles_with(perm)).values("tenant_id")
    allowed = [Q(**{_lookup(tenant_path, "pk__in"): role_tenants})]
    grant_path = getattr(model, "grant_path", None)
    if grant_path is not None:
        grant_model = _related_model(model, grant_path)
        perms = _granted_perms(grant_model, perm)
        if perms:
            granted = get_objects_for_user(
                user, perms, klass=grant_model, any_perm=True, with_superuser=False, accept_global_perms=False
            )
            allowed.append(Q(**{_lookup(grant_path, "pk__in"): granted.values("pk")}))
    return queryset.filter(active & reduce(or_, allowed))


def reachable(tenants: QuerySet, user) -> QuerySet:
    """The active tenants the user works in: where they hold a role, or a grant on one of the tenant's objects
    (a customer granted their own server reaches that server's tenant, and nothing else of it)."""
    if is_platform_admin(user):
        return tenants
    if not _is_ordinary_user(user):
        return tenants.none()
    within = Q(pk__in=user.memberships.values("tenant_id"))
    grants = UserObjectPermission.objects.filter(user=user).values_list("content_type_id", "object_pk")
    by_type: dict[int, set[str]] = {}
    for content_type_id, object_pk in grants:
        by_type.setdefault(content_type_id, set()).add(object_pk)
    for content_type_id, object_pks in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is not None and hasattr(model, "tenant_path"):
            granted = model._default_manager.filter(pk__in=object_pks)
            within |= Q(pk__in=granted.values(_lookup(model.tenant_path, "pk")))
    return tenants.filter(within, is_active=True)


def permissions(user, obj) -> frozenset[str]:
    """Everything the user may do with `obj`: their role's permissions in its tenant, plus single grants."""
    if is_platform_admin(user):
        return ALL_PERMISSIONS
    if not _is_ordinary_user(user):
        return frozenset()
    model = type(obj)
    tenant = _follow(obj, model.tenant_path)
    if not tenant.is_active:
        return frozenset()
    role = user.memberships.filter(tenant_id=tenant.pk).values_list("role", flat=True).first()
    perms = ROLE_PERMISSIONS.get(role, frozenset())
    grant_path = getattr(model, "grant_path", None)
    if grant_path is None:
        return perms
    target = _follow(obj, grant_path)
    app_label = target._meta.app_label
    granted = {f"{app_label}.{codename}" for codename in get_perms(user, target)} & GRANTABLE
    if granted:
        granted.add(view_permission(type(target)))
    return perms | granted


def can(user, perm: str, obj) -> bool:
    return perm in permissions(user, obj)


def require(user, perm: str, obj) -> None:
    """403 unless the user may do `perm` with `obj` (which they may see)."""
    if not can(user, perm, obj):
        raise PermissionDenied("You may see this but not do that.")


def get_object_for_user(queryset: QuerySet, user, perm: str | None = None, **lookup):
    """The one object `lookup` names, for a user: 404 when they may not see it (or it does not exist),
    403 when they may see it but not do `perm`."""
    model = queryset.model
    try:
        obj = restrict(queryset, user, view_permission(model)).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404(f"No such {model._meta.verbose_name}.") from None
    if perm is not None:
        require(user, perm, obj)
    return obj


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, perm: str) -> QuerySet:
        return restrict(self, user, perm)
