"""The choke point for API viewsets: a viewset names its model's queryset, and only ever sees through
tenants.access what the user may see (NetBox's base viewset)."""

from . import access


class RestrictedViewSetMixin:
    """`queryset` is the whole model; lists are restricted to what the user may see, and one object that the
    user may not see is a 404 that does not tell whether it exists."""

    queryset = None

    def get_queryset(self):
        queryset = self.queryset.all()
        return access.restrict(queryset, self.request.user, access.view_permission(queryset.model))

    def get_object(self):
        obj = access.get_object_for_user(self.queryset.all(), self.request.user, pk=self.kwargs[self.lookup_field])
        self.check_object_permissions(self.request, obj)
        return obj
