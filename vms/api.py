from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import client_ip
from console.services import console_session_request
from nexus.api import get_scoped_object
from servers.models import ProxmoxServer
from tenants import roles

from .services import guest_get, guests_list


def _server(request, server_id: int, perm: str) -> ProxmoxServer:
    visible = ProxmoxServer.objects.for_user(request.user, roles.VIEW_SERVER).select_related("tenant")
    return get_scoped_object(visible, request.user, perm, pk=server_id)


class GuestSerializer(serializers.Serializer):
    vmid = serializers.IntegerField()
    name = serializers.CharField()
    node = serializers.CharField()
    type = serializers.ChoiceField(choices=["qemu", "lxc"])
    status = serializers.CharField()
    template = serializers.BooleanField()
    cpu = serializers.FloatField()
    maxcpu = serializers.IntegerField()
    mem = serializers.IntegerField()
    maxmem = serializers.IntegerField()
    uptime = serializers.IntegerField()
    tags = serializers.ListField(child=serializers.CharField())


class GuestListView(APIView):
    @extend_schema(responses=GuestSerializer(many=True))
    def get(self, request, server_id: int):
        server = _server(request, server_id, roles.VIEW_SERVER)
        return Response([guest.as_dict() for guest in guests_list(server=server)])


class GuestDetailView(APIView):
    @extend_schema(responses=GuestSerializer)
    def get(self, request, server_id: int, vmid: int):
        server = _server(request, server_id, roles.VIEW_SERVER)
        return Response(guest_get(server=server, vmid=vmid).as_dict())


class ConsoleRequestView(APIView):
    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "ConsoleTicket",
                {
                    "session": serializers.IntegerField(),
                    "websocket_path": serializers.CharField(),
                    "console_url": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
    )
    def post(self, request, server_id: int, vmid: int):
        server = _server(request, server_id, roles.OPEN_CONSOLE)
        ticket = console_session_request(user=request.user, server=server, vmid=vmid, client_ip=client_ip(request))
        body = {
            "session": ticket.session.pk,
            "websocket_path": ticket.websocket_path,
            "console_url": reverse("console:page", args=[server.pk, vmid]),
            "expires_at": ticket.session.token_expires_at,
        }
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})
