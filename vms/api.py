from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from nexus.http import client_ip
from servers import proxmox
from tenants import roles

from .selectors import (
    POWER_ACTIONS,
    SORT_KEYS,
    STATUSES,
    GuestListing,
    guest_for_user,
    guests_for_user,
    server_with_guests_for_user,
)
from .services import guest_power, guest_task_status


class ServerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class GuestSerializer(serializers.Serializer):
    server = ServerRefSerializer()
    node = serializers.CharField()
    vmid = serializers.IntegerField()
    type = serializers.ChoiceField(choices=proxmox.KINDS)
    name = serializers.CharField()
    status = serializers.CharField(help_text="running, stopped or unknown (a paused VM is running).")
    template = serializers.BooleanField()
    cpu = serializers.FloatField(help_text="Share of its vCPUs in use, 0-1.")
    maxcpu = serializers.IntegerField()
    mem = serializers.IntegerField(help_text="Bytes.")
    maxmem = serializers.IntegerField()
    disk = serializers.IntegerField(help_text="Bytes (0 for VMs: Proxmox cannot see inside them).")
    maxdisk = serializers.IntegerField()
    uptime = serializers.IntegerField(help_text="Seconds.")
    tags = serializers.ListField(child=serializers.CharField())
    actions = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="What you may do with the guest now: `console` and each power action ("
        + ", ".join(POWER_ACTIONS)
        + "), by your role or grant, the tenant's settings and the guest's type and state.",
    )


class ServerFailureSerializer(serializers.Serializer):
    server = ServerRefSerializer()
    reason = serializers.CharField()
    code = serializers.CharField()


GUEST_FILTERS = [
    OpenApiParameter("tenant", str, description="Only this tenant's guests (its slug)."),
    OpenApiParameter("server", int, description="Only this server's guests (its id)."),
    OpenApiParameter("node", str, description="Only guests on this node."),
    OpenApiParameter("type", str, enum=list(proxmox.KINDS)),
    OpenApiParameter("status", str, enum=list(STATUSES)),
    OpenApiParameter("search", str, description="Part of the name or a tag, or the start of the VM id."),
    OpenApiParameter("sort", str, description="One of " + ", ".join(SORT_KEYS) + "; a leading - sorts descending."),
    OpenApiParameter(
        "fresh", bool, description="Ask Proxmox now instead of answering from the few seconds' cache per server."
    ),
]


class GuestsView(APIView):
    """Every guest you may see across the servers of your tenants, asked of all servers at once."""

    @extend_schema(
        parameters=GUEST_FILTERS,
        responses=inline_serializer(
            "GuestListing",
            {
                "count": serializers.IntegerField(),
                "guests": GuestSerializer(many=True),
                "errors": ServerFailureSerializer(many=True, help_text="Servers that could not be read, and why."),
            },
        ),
    )
    def get(self, request):
        listing = _listing(request)
        guests = [guest.as_dict() for guest in listing.guests]
        return Response({"count": len(guests), "guests": guests, "errors": listing.errors_for_user()})


def _listing(request, **fixed) -> GuestListing:
    query = request.query_params
    server = query.get("server", "")
    where = {
        "tenant": query.get("tenant", ""),
        # A server id that is no number names no server.
        "server_id": (int(server) if server.isdigit() else 0) if server else None,
        **fixed,
    }
    return guests_for_user(
        request.user,
        **where,
        node=query.get("node", ""),
        kind=query.get("type", ""),
        status=query.get("status", ""),
        search=query.get("search", ""),
        sort=query.get("sort", ""),
        fresh=query.get("fresh", "").lower() in ("1", "true", "yes", "on"),
    )


class GuestListView(APIView):
    """The guests of one server that you may see."""

    @extend_schema(parameters=GUEST_FILTERS[2:], responses=GuestSerializer(many=True))
    def get(self, request, server_id: int):
        server = server_with_guests_for_user(request.user, server_id)
        listing = _listing(request, tenant="", server_id=server.pk)
        if listing.errors:
            raise listing.errors[0].error(may_see_address=server.pk in listing.changeable)
        return Response([guest.as_dict() for guest in listing.guests])


class GuestDetailView(APIView):
    @extend_schema(responses=GuestSerializer)
    def get(self, request, server_id: int, vmid: int):
        return Response(guest_for_user(request.user, server_id, vmid).as_dict())


class GuestPowerView(APIView):
    @extend_schema(
        request=inline_serializer("PowerRequest", {"action": serializers.ChoiceField(choices=roles.POWER_ACTIONS)}),
        responses={
            202: inline_serializer(
                "PowerTask",
                {
                    "upid": serializers.CharField(help_text="Proxmox's task id."),
                    "task_url": serializers.CharField(help_text="Where the task's progress is read."),
                    "server": ServerRefSerializer(),
                    "vmid": serializers.IntegerField(),
                    "action": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request, server_id: int, vmid: int):
        action = request.data.get("action", "") if hasattr(request.data, "get") else ""
        task = guest_power(
            user=request.user, server_id=server_id, vmid=vmid, action=str(action), client_ip=client_ip(request)
        )
        body = {
            "upid": task.upid,
            "task_url": reverse("api:task-detail", args=[task.server.pk, task.upid]),
            "server": {"id": task.server.pk, "name": task.server.name},
            "vmid": task.vmid,
            "action": task.action,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TaskDetailView(APIView):
    """A Proxmox task of a guest you may see, shaped as Proxmox's task status (`status`: running or stopped,
    `exitstatus`: OK or the error), with its end time and the end of its log."""

    @extend_schema(
        responses=inline_serializer(
            "Task",
            {
                "upid": serializers.CharField(),
                "node": serializers.CharField(),
                "type": serializers.CharField(),
                "id": serializers.CharField(),
                "user": serializers.CharField(),
                "status": serializers.ChoiceField(choices=["running", "stopped"]),
                "exitstatus": serializers.CharField(required=False, help_text="OK, or the error; once stopped."),
                "starttime": serializers.IntegerField(),
                "endtime": serializers.IntegerField(allow_null=True),
                "pid": serializers.IntegerField(),
                "pstart": serializers.IntegerField(),
                "log": serializers.ListField(child=serializers.DictField()),
                "server": ServerRefSerializer(),
                "vmid": serializers.IntegerField(),
                "action": serializers.CharField(),
            },
        )
    )
    def get(self, request, server_id: int, upid: str):
        return Response(guest_task_status(user=request.user, server_id=server_id, upid=upid).as_dict())
