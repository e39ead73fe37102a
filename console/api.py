from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from audit.services import client_ip

from .models import ConsoleSession
from .services import console_session_terminate, console_sessions_for_user


class ConsoleSessionSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    server = serializers.PrimaryKeyRelatedField(read_only=True)
    server_name = serializers.CharField(source="server.name", read_only=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = ConsoleSession
        fields = [
            "id",
            "user",
            "tenant",
            "server",
            "server_name",
            "node",
            "guest_type",
            "vmid",
            "guest_name",
            "client_ip",
            "created_at",
            "opened_at",
            "closed_at",
            "is_open",
            "bytes_to_client",
            "bytes_to_server",
            "close_reason",
        ]
        read_only_fields = fields


class ConsoleSessionViewSet(viewsets.ReadOnlyModelViewSet):
    """Console sessions of the tenants you administer (all of them for platform admins)."""

    serializer_class = ConsoleSessionSerializer

    def get_queryset(self):
        sessions = console_sessions_for_user(self.request.user, tenant=self.request.query_params.get("tenant", ""))
        if self.request.query_params.get("open") in ("1", "true"):
            sessions = sessions.open()
        return sessions

    @extend_schema(
        parameters=[
            OpenApiParameter("tenant", str, description="Only this tenant's sessions (its slug)."),
            OpenApiParameter("open", bool, description="Only sessions still open."),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        session = get_object_or_404(self.get_queryset(), pk=pk)
        console_session_terminate(session=session, actor=request.user, client_ip=client_ip(request))
        return Response(status=status.HTTP_202_ACCEPTED)
