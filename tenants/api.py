"""The choke point for API viewsets: a viewset names its model's queryset, and only ever sees through
tenants.access what the user may see (NetBox's base viewset)."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from nexus.http import client_ip

from . import access, grants, roles, selectors, services
from .export import audit_csv_response
from .forms import AuditFilterForm
from .models import Membership, Tenant, validate_power_actions
from .roles import POWER_ACTIONS
from .timeline import timeline_count, timeline_page


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


# ---------------------------------------------------------------------------------------- tenants, members, grants


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "description", "logo_url", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class TenantSettingsSerializer(serializers.ModelSerializer):
    allowed_power_actions = serializers.ListField(
        child=serializers.ChoiceField(choices=POWER_ACTIONS), validators=[validate_power_actions]
    )

    class Meta:
        model = Tenant
        fields = [
            "console_enabled",
            "console_idle_timeout",
            "console_max_duration",
            "allowed_power_actions",
            "max_servers",
            "require_two_factor",
        ]


# What only platform admins change; tenant admins see them read-only.
PLATFORM_FIELDS = {"slug", "is_active", "max_servers"}


def _changes(serializer_class, request, tenant, partial):
    serializer = serializer_class(tenant, data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    if not access.is_platform_admin(request.user):
        refused = sorted(PLATFORM_FIELDS & set(fields))
        if refused:
            raise PermissionDenied(f"Only platform admins change {', '.join(refused)}.")
    return fields


def _tenant(request, slug, perm=None) -> Tenant:
    return access.get_object_for_user(Tenant.objects.all(), request.user, perm, slug=slug)


class TenantListView(APIView):
    """The tenants you are a member of (all of them for platform admins); platform admins create tenants."""

    serializer_class = TenantSerializer

    @extend_schema(operation_id="tenants_list", responses=TenantSerializer(many=True))
    def get(self, request):
        tenants = Tenant.objects.restrict(request.user, roles.VIEW_TENANT)
        return Response(TenantSerializer(tenants, many=True).data)

    def post(self, request):
        if not access.is_platform_admin(request.user):
            raise PermissionDenied("Only platform admins create tenants.")
        serializer = TenantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = services.tenant_create(actor=request.user, **serializer.validated_data)
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)


class _TenantFieldsView(APIView):
    """Read a tenant's fields of `serializer_class` (members), change them (admins; some platform admins only)."""

    serializer_class = None

    def get(self, request, slug):
        return Response(self.serializer_class(_tenant(request, slug)).data)

    def put(self, request, slug, partial=False):
        tenant = _tenant(request, slug, roles.CHANGE_TENANT)
        fields = _changes(self.serializer_class, request, tenant, partial)
        tenant = services.tenant_update(tenant=tenant, actor=request.user, **fields)
        return Response(self.serializer_class(tenant).data)

    def patch(self, request, slug):
        return self.put(request, slug, partial=True)


class TenantDetailView(_TenantFieldsView):
    """One tenant: members read it, its admins change its name, description and logo; platform admins also its
    slug and state, and delete it."""

    serializer_class = TenantSerializer

    def delete(self, request, slug):
        tenant = _tenant(request, slug)
        if not access.is_platform_admin(request.user):
            raise PermissionDenied("Only platform admins delete tenants.")
        services.tenant_delete(tenant=tenant, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TenantSettingsView(_TenantFieldsView):
    """A tenant's console and power settings: members read them, admins change them; the server limit is the
    platform admins' to change."""

    serializer_class = TenantSettingsSerializer


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    invited = serializers.SerializerMethodField()
    # On creation: an existing user name or e-mail address, or an e-mail address to invite.
    user = serializers.CharField(write_only=True, max_length=254)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "email", "role", "invited", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_invited(self, membership) -> bool:
        """Invited and not yet arrived: the account has no password yet."""
        return not membership.user.has_usable_password()


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=roles.Role.choices)


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


class MemberListView(APIView):
    """Members of a tenant (admins and managers read them); admins add one by user name or e-mail address, or
    invite someone new by e-mail address (they get a one-time link to choose a password)."""

    serializer_class = MemberSerializer

    @extend_schema(operation_id="tenants_members_list", responses=MemberSerializer(many=True))
    def get(self, request, slug):
        tenant = _tenant(request, slug, roles.VIEW_MEMBERS)
        return Response(MemberSerializer(selectors.members_of(tenant), many=True).data)

    def post(self, request, slug):
        tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
        serializer = MemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership, _ = services.member_add(
            tenant=tenant,
            identifier=serializer.validated_data["user"],
            role=serializer.validated_data.get("role", roles.Role.VIEWER),
            actor=request.user,
            base_url=_base_url(request),
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(APIView):
    """One membership: admins change its role or remove it; the last admin stays."""

    serializer_class = MemberSerializer

    def _membership(self, request, slug, member_id, perm) -> Membership:
        return selectors.member_of(_tenant(request, slug, perm), member_id)

    def get(self, request, slug, member_id):
        return Response(MemberSerializer(self._membership(request, slug, member_id, roles.VIEW_MEMBERS)).data)

    @extend_schema(request=MemberRoleSerializer)
    def patch(self, request, slug, member_id):
        membership = self._membership(request, slug, member_id, roles.MANAGE_MEMBERS)
        serializer = MemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_change_role(
            membership=membership, role=serializer.validated_data["role"], actor=request.user
        )
        return Response(MemberSerializer(membership).data)

    put = patch

    def delete(self, request, slug, member_id):
        membership = self._membership(request, slug, member_id, roles.MANAGE_MEMBERS)
        services.member_remove(membership=membership, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GrantSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True, help_text='"server-17", "guest-4-console": unique across kinds.')
    user = serializers.CharField(max_length=254, help_text="A user name or e-mail address (member or not).")
    username = serializers.CharField(source="user.username", read_only=True)
    kind = serializers.CharField(default="server", help_text="server (a whole server) or guest (one guest of one).")
    object_id = serializers.CharField(
        max_length=64, help_text="A server's id; a guest's server id and VM id: \"12/100\"."
    )
    object_name = serializers.CharField(source="target", read_only=True)
    permission = serializers.CharField(help_text="view, console or power.")

    def to_representation(self, grant):
        data = super().to_representation(grant)
        data["user"] = grant.user.username
        return data


class GrantListView(APIView):
    """Grants of single servers and single guests of the tenant, to members or outside accounts (e.g. a customer's
    console of their own guest): admins and managers read them, admins give them."""

    serializer_class = GrantSerializer

    @extend_schema(operation_id="tenants_grants_list", responses=GrantSerializer(many=True))
    def get(self, request, slug):
        tenant = _tenant(request, slug, roles.VIEW_MEMBERS)
        return Response(GrantSerializer(grants.grants_of(tenant), many=True).data)

    def post(self, request, slug):
        tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
        serializer = GrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        grant = services.grant_give(
            tenant=tenant,
            identifier=data["user"],
            kind=data["kind"],
            object_id=data["object_id"],
            permission=data["permission"],
            actor=request.user,
            client_ip=client_ip(request),
        )
        return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class GrantDetailView(APIView):
    serializer_class = GrantSerializer

    def get(self, request, slug, grant_id):
        tenant = _tenant(request, slug, roles.VIEW_MEMBERS)
        return Response(GrantSerializer(grants.grant_of(tenant, grant_id)).data)

    def delete(self, request, slug, grant_id):
        tenant = _tenant(request, slug, roles.MANAGE_MEMBERS)
        services.grant_revoke(grant=grants.grant_of(tenant, grant_id), actor=request.user, client_ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEntrySerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="event (logins, consoles, power, refusals...) or change (of a model)")
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    actor_deleted = serializers.BooleanField()
    tenant = serializers.CharField()
    action = serializers.CharField()
    target = serializers.CharField()
    outcome = serializers.CharField()
    ip_address = serializers.CharField()
    details = serializers.JSONField()


AUDIT_FILTERS = [
    OpenApiParameter("tenant", str, description="A tenant's slug."),
    OpenApiParameter("actor", str, description="A user name."),
    OpenApiParameter("action", str, description="Part of the action, e.g. 'console' or 'membership'."),
    OpenApiParameter("target", str, description="Part of the target's name."),
    OpenApiParameter("since", str, description="From this time on (ISO 8601 or a date)."),
    OpenApiParameter("until", str, description="Before this time."),
]


def _audit_filters(request):
    form = AuditFilterForm(request.query_params)
    if not form.is_valid():
        raise ValidationError(form.errors)
    return form.filters()


class AuditPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class AuditLogView(APIView):
    """The audit log of the tenants you administer (everything for platform admins), newest first: audit events
    and model changes in one timeline."""

    serializer_class = AuditEntrySerializer

    @extend_schema(parameters=AUDIT_FILTERS)
    def get(self, request):
        filters = _audit_filters(request)
        paginator = AuditPagination()
        page_size = paginator.get_page_size(request)
        try:
            number = max(1, int(request.query_params.get("page", 1)))
        except ValueError:
            number = 1
        count = timeline_count(request.user, filters)
        entries = timeline_page(request.user, filters, offset=(number - 1) * page_size, limit=page_size)
        if number > 1 and not entries:
            raise NotFound("Invalid page.")
        url = request.build_absolute_uri()
        more = number * page_size < count
        return Response(
            {
                "count": count,
                "next": replace_query_param(url, "page", number + 1) if more else None,
                "previous": replace_query_param(url, "page", number - 1) if number > 1 else None,
                "results": AuditEntrySerializer(entries, many=True).data,
            }
        )


class AuditExportView(APIView):
    """The same, as a CSV file, streamed (formula-like cells are made text)."""

    @extend_schema(parameters=AUDIT_FILTERS, responses={(200, "text/csv"): str})
    def get(self, request):
        return audit_csv_response(request.user, _audit_filters(request))
