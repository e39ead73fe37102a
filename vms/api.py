from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from servers import proxmox
from servers.selectors import server_for_user

from .services import guest_get, guests_list


class GuestSerializer(serializers.Serializer):
    vmid = serializers.IntegerField()
    name = serializers.CharField()
    node = serializers.CharField()
    type = serializers.ChoiceField(choices=proxmox.KINDS)
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
        server = server_for_user(request.user, server_id)
        return Response([guest.as_dict() for guest in guests_list(server=server)])


class GuestDetailView(APIView):
    @extend_schema(responses=GuestSerializer)
    def get(self, request, server_id: int, vmid: int):
        server = server_for_user(request.user, server_id)
        return Response(guest_get(server=server, vmid=vmid).as_dict())
