import copy
import json

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from nexus.http import client_ip
from tenants import roles
from tenants.api import RestrictedViewSetMixin

from . import imports, proxmox
from .models import ProxmoxServer
from .selectors import (
    server_api_tree,
    server_for_user,
    servers_for_user,
    tenant_for_new_server,
    tenants_for_new_servers,
)
from .services import (
    EDITABLE_FIELDS,
    server_api_read,
    server_check,
    server_connection_test,
    server_create,
    server_delete,
    server_fingerprint_pin,
    server_presented_certificate,
    server_test_check,
    server_update,
    servers_import,
)
from .validators import validate_token_secret

# How a server is reached, and why it failed: only for those who may change the server (the serializer's context
# names them: `changeable`, the ids of the servers the user may change).
CONNECTION_FIELDS = (
    "host",
    "port",
    "token_id",
    "tls_mode",
    "fingerprint",
    "use_tailscale",
    "tailscale_hostname",
    "connection_timeout",
    "health_check_error",
)


class ProxmoxServerSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ProxmoxServer
        # Never the token secret, encrypted or not.
        fields = [
            "id",
            "tenant",
            "name",
            *CONNECTION_FIELDS,
            "is_active",
            "connection_status",
            "last_health_check_at",
            "avg_response_time_ms",
            "success_rate",
            "learned_timeout_ms",
            "console_probe",
            "console_probe_vmid",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, server):
        data = super().to_representation(server)
        if server.pk not in self.context.get("changeable", ()):
            for name in CONNECTION_FIELDS:
                data.pop(name, None)
        return data


class ProxmoxServerWriteSerializer(serializers.ModelSerializer):
    """What a server is added or changed with. The token secret is write-only; left out on a change, the stored one
    stays. The checks are the service's (servers.services.server_check), run here for the answer's field errors."""

    tenant = serializers.SlugField(required=False, write_only=True, help_text="The tenant's slug (on adding only).")
    token_secret = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        validators=[validate_token_secret],
        style={"input_type": "password"},
        help_text="Write-only. Left out or empty on a change: the stored one stays.",
    )

    class Meta:
        model = ProxmoxServer
        # Names unique per tenant are checked by the service (with the tenant the view chose).
        validators = []
        fields = ["tenant", "token_secret", *EDITABLE_FIELDS]

    check = staticmethod(server_check)

    def validate(self, attrs):
        attrs.pop("tenant", None)  # chosen (and its permission checked) by the view
        server = copy.copy(self.instance) if self.instance else ProxmoxServer(tenant=self.context.get("tenant"))
        for name, value in attrs.items():
            if name != "token_secret":
                setattr(server, name, value)
        self.check(server=server, token_secret=attrs.get("token_secret") or None)
        return attrs

    def server_fields(self) -> tuple[dict, str | None]:
        """The validated fields for the service, and the secret apart (None, or left empty: keep the stored one)."""
        fields = dict(self.validated_data)
        return fields, fields.pop("token_secret", None) or None


class ProxmoxServerTestSerializer(ProxmoxServerWriteSerializer):
    """Settings only tested: no name needed, and no pin yet in fingerprint mode (the test shows what to pin)."""

    check = staticmethod(server_test_check)

    class Meta(ProxmoxServerWriteSerializer.Meta):
        extra_kwargs = {"name": {"required": False}}


class FingerprintSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(help_text="The SHA-256 fingerprint the user compared and confirms.")


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV: a header row, UTF-8 with or without BOM, comma or semicolon.")
    tenant = serializers.SlugField(required=False)
    dry_run = serializers.BooleanField(default=False)
    probe = serializers.BooleanField(default=False, help_text="With dry_run: test every valid row's connection.")


class NDJSONRenderer(renderers.BaseRenderer):
    """Newline-delimited JSON: the connection test sends a line per step as it completes."""

    media_type = "application/x-ndjson"
    format = "ndjson"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() + b"\n"


TEST_RENDERERS = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, NDJSONRenderer]


def connection_test_response(request, steps) -> Response | StreamingHttpResponse:
    """The test's steps: all at once as JSON, or, asked for application/x-ndjson, a line per step as it completes
    and a last line with the result."""
    first = next(steps)  # here, so that unusable settings are an error answer rather than a broken stream
    if isinstance(request.accepted_renderer, NDJSONRenderer):
        return StreamingHttpResponse(_step_lines(first, steps), content_type=NDJSONRenderer.media_type)
    return Response(proxmox.result_of([first, *steps]))


async def _step_lines(first, steps):
    done = [first]
    yield json.dumps(first.as_dict()) + "\n"
    while (step := await sync_to_async(next, thread_sensitive=False)(steps, None)) is not None:
        done.append(step)
        yield json.dumps(step.as_dict()) + "\n"
    result = proxmox.result_of(done)
    del result["steps"]
    yield json.dumps({"result": result}) + "\n"


def _tenant_slug(request) -> str | None:
    return request.data.get("tenant") if hasattr(request.data, "get") else None


class ProxmoxServerViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    """Servers: everyone sees those they may see; tenant admins and managers (and platform admins) add, change,
    delete, test, pin and import them."""

    queryset = ProxmoxServer.objects.select_related("tenant")
    serializer_class = ProxmoxServerSerializer
    # What each action on one server needs, beyond seeing it.
    action_permissions = {
        "update": roles.CHANGE_SERVER,
        "partial_update": roles.CHANGE_SERVER,
        "destroy": roles.DELETE_SERVER,
        "connection_test": roles.CHANGE_SERVER,
        "fingerprint": roles.CHANGE_SERVER,
    }

    def get_object(self):
        return server_for_user(self.request.user, self.kwargs["pk"], self.action_permissions.get(self.action))

    def get_serializer_context(self):
        changeable = servers_for_user(self.request.user, roles.CHANGE_SERVER).values_list("pk", flat=True)
        return {**super().get_serializer_context(), "changeable": set(changeable)}

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return ProxmoxServerWriteSerializer
        return ProxmoxServerSerializer

    def _answer(self, server, status_code=status.HTTP_200_OK) -> Response:
        return Response(ProxmoxServerSerializer(server, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(request=ProxmoxServerWriteSerializer, responses={201: ProxmoxServerSerializer})
    def create(self, request, *args, **kwargs):
        tenant = tenant_for_new_server(request.user, _tenant_slug(request))
        serializer = ProxmoxServerWriteSerializer(data=request.data, context={"tenant": tenant})
        serializer.is_valid(raise_exception=True)
        fields, secret = serializer.server_fields()
        server = server_create(tenant=tenant, actor=request.user, token_secret=secret, **fields)
        return self._answer(server, status.HTTP_201_CREATED)

    @extend_schema(request=ProxmoxServerWriteSerializer, responses=ProxmoxServerSerializer)
    def update(self, request, *args, partial=False, **kwargs):
        server = self.get_object()
        serializer = ProxmoxServerWriteSerializer(server, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields, secret = serializer.server_fields()
        return self._answer(server_update(server=server, actor=request.user, token_secret=secret, **fields))

    def destroy(self, request, *args, **kwargs):
        server_delete(server=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="servers_test_settings", request=ProxmoxServerTestSerializer, responses=OpenApiTypes.OBJECT
    )
    @action(detail=False, methods=["post"], url_path="test", renderer_classes=TEST_RENDERERS)
    def test(self, request):
        """The connection test of settings not saved (the add form's): step by step."""
        if not tenants_for_new_servers(request.user).exists():
            self.permission_denied(request, "You may not add servers to any tenant.")
        serializer = ProxmoxServerTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields, secret = serializer.server_fields()
        server = ProxmoxServer(**fields)
        return connection_test_response(request, server_connection_test(server=server, token_secret=secret))

    @extend_schema(operation_id="servers_test", request=ProxmoxServerTestSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"], url_path="test", url_name="connection-test", renderer_classes=TEST_RENDERERS)
    def connection_test(self, request, pk=None):
        """The connection test of a stored server, or of changes to it that are not saved yet (the edit form's)."""
        server = self.get_object()
        secret = None
        if request.data:
            serializer = ProxmoxServerTestSerializer(server, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            fields, secret = serializer.server_fields()
            server = copy.copy(server)
            for name, value in fields.items():
                setattr(server, name, value)
        return connection_test_response(request, server_connection_test(server=server, token_secret=secret))

    @extend_schema(methods=["GET"], responses=OpenApiTypes.OBJECT)
    @extend_schema(methods=["POST"], request=FingerprintSerializer, responses=ProxmoxServerSerializer)
    @action(detail=True, methods=["get", "post"])
    def fingerprint(self, request, pk=None):
        """GET: the fingerprint the server presents now, to compare with the one Proxmox shows (trust on first
        use). POST: pin the one the user confirmed; nothing is ever pinned without it."""
        server = self.get_object()
        if request.method == "GET":
            presented = server_presented_certificate(server=server)
            return Response(
                {"fingerprint": presented.fingerprint, "pinned": presented.pinned, "matches_pin": presented.matches_pin}
            )
        serializer = FingerprintSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fingerprint = serializer.validated_data["fingerprint"]
        return self._answer(server_fingerprint_pin(server=server, actor=request.user, fingerprint=fingerprint))

    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_csv(self, request):
        """Import servers from a CSV file: a dry run checks (and probes) every row; a real import saves all or
        nothing."""
        tenant = tenant_for_new_server(request.user, _tenant_slug(request))
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        content = data["file"].read(imports.MAX_BYTES + 1)
        report = servers_import(
            tenant=tenant, actor=request.user, content=content, dry_run=data["dry_run"], probe=data["probe"]
        )
        body = report.as_dict()
        if report.dry_run:
            return Response(body)
        if not report.ok:
            detail = "The file has problems; nothing was imported."
            return Response({"detail": detail, "code": "invalid_import", **body}, status=status.HTTP_400_BAD_REQUEST)
        servers = [row.server for row in report.rows]
        body["servers"] = ProxmoxServerSerializer(servers, many=True, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProxmoxReadView(APIView):
    """The read-only Proxmox API explorer: GET of a path of Proxmox's API schema, with the parameters it takes
    (as query parameters), for the server's tenant admins and managers; every read is audited."""

    @extend_schema(
        parameters=[OpenApiParameter("path", OpenApiTypes.STR, OpenApiParameter.PATH)], responses=OpenApiTypes.OBJECT
    )
    def get(self, request, server_id: int, path: str):
        server = server_for_user(request.user, server_id, roles.EXPLORE_API)
        params = {name: request.query_params[name] for name in request.query_params}
        proxmox_path = "/" + path
        data = server_api_read(
            server=server, user=request.user, path=proxmox_path, params=params, client_ip=client_ip(request)
        )
        return Response({"path": proxmox_path, "params": params, "data": data})


class ProxmoxTreeView(APIView):
    """The paths the explorer may read, as a tree, with their descriptions."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, server_id: int):
        server = server_for_user(request.user, server_id, roles.EXPLORE_API)
        return Response(server_api_tree(user=request.user, server=server))
