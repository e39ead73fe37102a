from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from nexus.http import client_ip
from tenants import roles
from tenants.api import RestrictedViewSetMixin
from vms.selectors import guest_access_for_user

from .models import ConsoleSession
from .selectors import console_sessions_for_user
from .services import WEBSOCKET_PATH, console_session_request, console_session_terminate


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


class ConsoleSessionViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Console sessions of the tenants you administer (all of them for platform admins)."""

    queryset = ConsoleSession.objects.select_related("user", "server", "tenant")
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
        session = self.get_object()
        console_session_terminate(session=session, actor=request.user, client_ip=client_ip(request))
        return Response(status=status.HTTP_202_ACCEPTED)


class ConsoleRequestThrottle(UserRateThrottle):
    """Each console request costs a Proxmox ticket and a session record: a user gets CONSOLE_REQUEST_RATE of them."""

    scope = "console"

    def get_rate(self):
        return settings.CONSOLE_REQUEST_RATE


class ConsoleRequestView(APIView):
    throttle_classes = [ConsoleRequestThrottle]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "ConsoleTicket",
                {
                    "session": serializers.IntegerField(),
                    "websocket_path": serializers.CharField(),
                    "websocket_protocols": serializers.ListField(child=serializers.CharField()),
                    "console_url": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
    )
    def post(self, request, server_id: int, vmid: int):
        server = guest_access_for_user(request.user, server_id, vmid, roles.OPEN_CONSOLE).server
        ticket = console_session_request(user=request.user, server=server, vmid=vmid, client_ip=client_ip(request))
        body = {
            "session": ticket.session.pk,
            "websocket_path": WEBSOCKET_PATH,
            "websocket_protocols": ticket.websocket_protocols,
            # The console page opened with this very token; in the fragment, which reaches no server log or Referer.
            "console_url": f"{reverse('console:page', args=[server.pk, vmid])}#token={ticket.token}",
            "expires_at": ticket.session.token_expires_at,
        }
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})
