"""The one place that answers "what may this user see or do", for every tenant-scoped model.

Like NetBox's `RestrictedQuerySet.restrict(user, action)`, it knows no feature model. A model opts in by
using `RestrictedQuerySet` and declaring two paths:

- `tenant_path`: from the model to its tenant ("tenant", "server__tenant"; "" for the Tenant itself);
- `grant_path`: to the object single grants are made on with django-guardian ("" for the model itself,
  "server" for a server's records), or None where nothing is granted one by one.

Parts of an object (the guests of a server) can be granted one by one too. A model of such grants declares
`part_of` (its path to the object whose part it grants, "server"), `part_key` (the field that names the part,
"vmid") and `part_permission_fields` ({permission: boolean field} for what it gives beyond seeing the part), and
has a `user`. Access finds those models itself, so it still imports none: a part grant lets its user see that
part and do what it says there, and reach the object (`restrict(..., parts=True)`), but gives nothing on the
object as a whole. `scopes()` answers both at once for many objects, with a fixed number of queries.

Platform admins (active superusers) may do everything. Anyone else holds the permissions of their role in
each active tenant they belong to (tenants.roles), plus what was granted to them on single objects.
"""

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.core import ObjectPermissionChecker
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_objects_for_user

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


@functools.cache
def _part_grant_models(model=None) -> tuple:
    """The models that grant parts of `model` one by one (of any model when None; see the module's docstring)."""
    return tuple(
        candidate
        for candidate in apps.get_models()
        if getattr(candidate, "part_of", None) and model in (None, _related_model(candidate, candidate.part_of))
    )


def _part_grants(grant_model, user, perm: str) -> list[tuple[Any, QuerySet]]:
    """(part grant model, its grants to `user` that give `perm` on their part) for each model granting parts."""
    found = []
    for part_model in _part_grant_models(grant_model):
        grants = part_model._default_manager.filter(user=user)
        if perm != view_permission(grant_model):
            flag = part_model.part_permission_fields.get(perm)
            if flag is None:
                continue
            grants = grants.filter(**{flag: True})
        found.append((part_model, grants))
    return found


def restrict(queryset: QuerySet, user, perm: str, *, parts: bool = False) -> QuerySet:
    """The objects of `queryset` on which the user holds `perm`, through their role or a single grant; with
    `parts`, also those on a part of which they hold it (a guest of a server granted alone)."""
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
        if parts:
            for part_model, grants in _part_grants(grant_model, user, perm):
                allowed.append(Q(**{_lookup(grant_path, "pk__in"): grants.values(part_model.part_of)}))
    return queryset.filter(active & reduce(or_, allowed))


def reachable(tenants: QuerySet, user) -> QuerySet:
    """The active tenants the user works in: where they hold a role, or a grant on one of the tenant's objects or on
    a part of one (a customer granted their own server, or their own guest, reaches that tenant, and nothing else
    of it)."""
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
    for part_model in _part_grant_models():
        target = _related_model(part_model, part_model.part_of)
        path = _lookup(_lookup(part_model.part_of, target.tenant_path), "pk")
        within |= Q(pk__in=part_model._default_manager.filter(user=user).values(path))
    return tenants.filter(within, is_active=True)


@dataclass(frozen=True)
class Scope:
    """What a user may do with one object as a whole (`whole`), and on single parts of it that were granted to
    them alone (`parts`: part key -> permissions there, seeing it included)."""

    whole: frozenset[str]
    view: str  # the permission that lets one see the object (and so each of its parts)
    parts: Mapping[Any, frozenset[str]] = field(default_factory=dict)

    def of(self, part) -> frozenset[str]:
        """What the user may do with one part: what they may on the whole object, plus that part's grants."""
        return self.whole | self.parts.get(part, frozenset())

    @property
    def sees_every_part(self) -> bool:
        return self.view in self.whole

    def sees(self, part) -> bool:
        return self.view in self.of(part)


def scopes(user, objects: Iterable, *, parts: bool = True) -> dict[Any, Scope]:
    """The Scope of each object (all of one model, with the path to their tenant selected), by primary key: a
    fixed number of queries however many objects there are. Without `parts`, part grants are not read."""
    objects = list(objects)
    if not objects:
        return {}
    model = type(objects[0])
    view = view_permission(model)
    if is_platform_admin(user) or not _is_ordinary_user(user):
        everything = ALL_PERMISSIONS if is_platform_admin(user) else frozenset()
        return {obj.pk: Scope(everything, view) for obj in objects}
    tenants = {obj.pk: _follow(obj, model.tenant_path) for obj in objects}
    active = {tenant.pk for tenant in tenants.values() if tenant.is_active}
    role_of = dict(user.memberships.filter(tenant_id__in=active).values_list("tenant_id", "role"))
    grant_path = getattr(model, "grant_path", None)
    targets = {obj.pk: _follow(obj, grant_path) for obj in objects} if grant_path is not None else {}
    whole_grants = _whole_grants(user, list(targets.values()))
    part_grants = _part_grants_of(user, list(targets.values())) if parts and targets else {}
    found = {}
    for obj in objects:
        tenant = tenants[obj.pk]
        if tenant.pk not in active:
            found[obj.pk] = Scope(frozenset(), view)
            continue
        target = targets.get(obj.pk)
        granted = whole_grants.get(target.pk, frozenset()) if target is not None else frozenset()
        whole = ROLE_PERMISSIONS.get(role_of.get(tenant.pk), frozenset()) | granted
        found[obj.pk] = Scope(whole, view, part_grants.get(target.pk, {}) if target is not None else {})
    return found


def _whole_grants(user, targets: list) -> dict[Any, frozenset[str]]:
    """django-guardian's grants on each target (by pk), as permission names; any grant lets the user see it."""
    if not targets:
        return {}
    checker = ObjectPermissionChecker(user)
    checker.prefetch_perms(targets)
    granted = {}
    for target in targets:
        app_label = target._meta.app_label
        perms = {f"{app_label}.{codename}" for codename in checker.get_perms(target)} & GRANTABLE
        if perms:
            perms.add(view_permission(type(target)))
        granted[target.pk] = frozenset(perms)
    return granted


def _part_grants_of(user, targets: list) -> dict[Any, dict[Any, frozenset[str]]]:
    """target pk -> {part key -> permissions}: the part grants of `user` on parts of the targets."""
    target_model = type(targets[0])
    view = view_permission(target_model)
    found: dict[Any, dict[Any, frozenset[str]]] = {}
    for part_model in _part_grant_models(target_model):
        flags = part_model.part_permission_fields
        rows = part_model._default_manager.filter(
            user=user, **{f"{part_model.part_of}__in": [target.pk for target in targets]}
        ).values_list(part_model.part_of, part_model.part_key, *flags.values())
        for target_pk, part, *given in rows:
            perms = {view} | {perm for perm, on in zip(flags, given, strict=True) if on}
            parts = found.setdefault(target_pk, {})
            parts[part] = parts.get(part, frozenset()) | perms
    return found


def scope(user, obj) -> Scope:
    """The Scope of one object: what the user may do with it, and with its parts granted alone."""
    return scopes(user, [obj])[obj.pk]


def permissions(user, obj) -> frozenset[str]:
    """Everything the user may do with `obj` as a whole: their role's permissions in its tenant, plus single
    grants (a grant on one of its parts gives nothing on the whole)."""
    return scopes(user, [obj], parts=False)[obj.pk].whole


def can(user, perm: str, obj) -> bool:
    return perm in permissions(user, obj)


def require(user, perm: str, obj) -> None:
    """403 unless the user may do `perm` with `obj` (which they may see)."""
    if not can(user, perm, obj):
        raise PermissionDenied("You may see this but not do that.")


def get_object_for_user(queryset: QuerySet, user, perm: str | None = None, *, parts: bool = False, **lookup):
    """The one object `lookup` names, for a user: 404 when they may not see it (or it does not exist),
    403 when they may see it but not do `perm`. With `parts`, an object of which they may see only granted parts
    is found too (and `perm` is left to the caller, who knows which part is meant)."""
    model = queryset.model
    try:
        obj = restrict(queryset, user, view_permission(model), parts=parts).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404(f"No such {model._meta.verbose_name}.") from None
    if perm is not None:
        require(user, perm, obj)
    return obj


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, perm: str, *, parts: bool = False) -> QuerySet:
        return restrict(self, user, perm, parts=parts)
