from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from nexus.http import client_ip

from .models import ApiToken
from .selectors import api_token_of, api_tokens_of, may_create_api_token, users_for_operator
from .services import api_token_create, api_token_revoke, two_factor_reset, user_delete

TOKEN_NEEDS_TWO_FACTOR = "Creating an API token needs a browser session that passed two-factor authentication."


class ApiTokenSerializer(serializers.ModelSerializer):
    prefix = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField(source="expiry", allow_null=True, required=False, default=None)
    created_at = serializers.DateTimeField(source="created", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at"]

    def get_prefix(self, token) -> str:
        """The key's first characters, to tell tokens apart (never enough to use one)."""
        return token.token_key[:8]


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Your personal API tokens: send one as `Authorization: Bearer <token>`. The key is shown once, on creation."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; get_queryset gives the user's own

    def get_queryset(self):
        return api_tokens_of(self.request.user)

    def get_object(self):
        return api_token_of(self.request.user, self.kwargs["pk"])

    @extend_schema(
        responses={
            201: inline_serializer("NewApiToken", {"token": serializers.CharField(), "id": serializers.IntegerField()})
        }
    )
    def create(self, request, *args, **kwargs):
        if not may_create_api_token(request.user, request._request):
            raise PermissionDenied(TOKEN_NEEDS_TWO_FACTOR)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = api_token_create(
            user=request.user,
            name=serializer.validated_data["name"],
            expires_at=serializer.validated_data.get("expiry"),
            client_ip=client_ip(request),
        )
        body = {**ApiTokenSerializer(token).data, "token": key}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    def perform_destroy(self, instance):
        api_token_revoke(token=instance, actor=self.request.user, client_ip=client_ip(self.request))


class UserSerializer(serializers.ModelSerializer):
    tenant_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_active", "is_superuser", "last_login", "date_joined", "tenant_count"]
        read_only_fields = fields


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Accounts, for platform admins: deleting one removes its memberships, grants and tokens; its audit history
    stays. The last platform admin cannot be deleted."""

    serializer_class = UserSerializer
    queryset = get_user_model().objects.none()  # for the schema; get_queryset checks the caller

    def get_queryset(self):
        return users_for_operator(self.request.user)

    @extend_schema(
        request=None, responses={200: inline_serializer("TwoFactorReset", {"removed": serializers.IntegerField()})}
    )
    @action(detail=True, methods=["post"], url_path="reset-two-factor")
    def reset_two_factor(self, request, pk=None):
        """Remove every second factor of a user who lost theirs (audited); they enrol again at their next login
        where 2FA is required."""
        removed = two_factor_reset(user=self.get_object(), actor=request.user, client_ip=client_ip(request))
        return Response({"removed": removed})

    def perform_destroy(self, instance):
        user_delete(user=instance, actor=self.request.user, client_ip=client_ip(self.request))
