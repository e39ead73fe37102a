"""The one package that speaks the Proxmox VE API.

Framework-free: it takes a plain `Connection` and returns plain Python data; it imports no Django and no other app
of ours. Everything that builds a Proxmox URL, an Authorization header or a TLS context lives here, so TLS pinning,
timeouts and secret hygiene are decided once.

    connection   Connection, TLS contexts, certificate fingerprints
    transport    the HTTP session under the calls, the deadline of every call, the certificate fetch (trust on
                 first use)
    errors       what this package raises; translate decides which error a failure becomes
    validation   what may be sent: guest arguments, task ids, the API explorer's GET allow-list
    client       ProxmoxClient: the API calls
    privileges   what a token may do, compared with what the broker needs
    fanout       one call against many servers at once
    probe        the connection test, step by step (connect, TLS, token, version, privileges)
    console      the console upstream: open_console (vncproxy, then vncwebsocket)
    rfb          the parts of the RFB (VNC) protocol the console relay and the simulator share

Facts about real Proxmox behaviour this relies on are in the project notes (token header, error bodies, UPIDs,
vncproxy/vncwebsocket, fingerprints as SHA-256 of the leaf certificate).
"""

from .client import MAX_RESPONSE_BYTES, ProxmoxClient
from .connection import (
    ALWAYS_DENIED_NETWORKS,
    MAX_TOKEN_SECRET_LENGTH,
    TLS_MODES,
    TOKEN_ID_PATTERN,
    Connection,
    certificate_fingerprint,
    check_ca_pem,
    denied_network,
    normalise_fingerprint,
    parse_networks,
    ssl_context,
    token_secret_problem,
)
from .console import (
    ConsoleStream,
    UpstreamConsole,
    console_greeting,
    open_console,
    open_vnc_websocket,
    vncwebsocket_url,
)
from .errors import (
    AuthenticationFailed,
    ConfigurationError,
    ConsoleClosed,
    DeniedAddress,
    GuestNotRunning,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProxmoxAPIError,
    ProxmoxError,
    TimedOut,
    TLSFailure,
    Unreachable,
)
from .fanout import FanOutResult, fan_out
from .privileges import (
    HIGH_RISK_PRIVILEGES,
    REQUIRED_PRIVILEGES,
    TOLERATED_PRIVILEGES,
    PrivilegeReport,
    privilege_report,
)
from .probe import Step, connection_test, outcome_of, result_of
from .transport import GET_RETRIES, fetch_fingerprint
from .validation import (
    KINDS,
    NODE_LOG_PATHS,
    POWER_ACTIONS,
    GetEndpoint,
    Upid,
    check_get,
    get_endpoints,
    is_allowed_get_path,
    parse_upid,
)

__all__ = [
    "ALWAYS_DENIED_NETWORKS",
    "GET_RETRIES",
    "HIGH_RISK_PRIVILEGES",
    "KINDS",
    "MAX_RESPONSE_BYTES",
    "MAX_TOKEN_SECRET_LENGTH",
    "NODE_LOG_PATHS",
    "POWER_ACTIONS",
    "REQUIRED_PRIVILEGES",
    "TLS_MODES",
    "TOKEN_ID_PATTERN",
    "TOLERATED_PRIVILEGES",
    "AuthenticationFailed",
    "ConfigurationError",
    "Connection",
    "ConsoleClosed",
    "ConsoleStream",
    "DeniedAddress",
    "FanOutResult",
    "GetEndpoint",
    "GuestNotRunning",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "PrivilegeReport",
    "ProxmoxAPIError",
    "ProxmoxClient",
    "ProxmoxError",
    "Step",
    "TLSFailure",
    "TimedOut",
    "Unreachable",
    "Upid",
    "UpstreamConsole",
    "certificate_fingerprint",
    "check_ca_pem",
    "check_get",
    "connection_test",
    "console_greeting",
    "denied_network",
    "fan_out",
    "fetch_fingerprint",
    "get_endpoints",
    "is_allowed_get_path",
    "normalise_fingerprint",
    "open_console",
    "open_vnc_websocket",
    "outcome_of",
    "parse_networks",
    "parse_upid",
    "privilege_report",
    "result_of",
    "ssl_context",
    "token_secret_problem",
    "vncwebsocket_url",
]
