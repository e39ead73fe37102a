"""Console sessions: one-time tokens for the browser, the claim by the WebSocket, the record, termination."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import audit_record
from nexus.errors import ApplicationError
from nexus.health import redis_answers
from servers.models import ProxmoxServer
from tenants import roles
from tenants.events import tenant_event_publish
from vms.selectors import guest_permissions, server_guest

from .models import ConsoleSession
from .relay import CloseReason

logger = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(seconds=60)
# Each relay tells its record it lives this often, and learns whether it was ended meanwhile (an End the channel
# layer could not carry, a record deleted with its user). One that missed three beats lost its process.
HEARTBEAT_INTERVAL = timedelta(seconds=30)
HEARTBEAT_LOST = 3 * HEARTBEAT_INTERVAL
# The channel-layer message that ends a session: a control message, never console bytes.
TERMINATE_MESSAGE = "console.terminate"
# The console WebSocket: the one-time token travels as a subprotocol (`Sec-WebSocket-Protocol`) beside `binary`,
# never in the URL, so it reaches no access log (the web process's, the proxy's) and no Referer.
WEBSOCKET_PATH = "/ws/console/"
TOKEN_PROTOCOL = "console-token."


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_hash(session_key: str | None) -> str:
    """What a console records of the login session it was opened from (never the session key itself)."""
    return _token_hash(session_key) if session_key else ""


@dataclass(frozen=True)
class ConsoleTicket:
    session: ConsoleSession
    token: str  # 256 random bits; only its hash is stored

    @property
    def websocket_protocols(self) -> list[str]:
        """The subprotocols to open WEBSOCKET_PATH with; the server answers with `binary`."""
        return ["binary", f"{TOKEN_PROTOCOL}{self.token}"]


def console_token_offered(subprotocols: list[str]) -> str:
    """The one-time token a WebSocket offered among its subprotocols, or ''."""
    return next((name.removeprefix(TOKEN_PROTOCOL) for name in subprotocols if name.startswith(TOKEN_PROTOCOL)), "")


def _audit(action: str, session: ConsoleSession, *, actor, client_ip: str | None, **details) -> None:
    audit_record(
        action=action,
        actor=actor,
        tenant=session.tenant,
        target=f"{session.server.name}/{session.guest_type}/{session.vmid}",
        ip_address=client_ip,
        details={"session": session.pk, **details},
    )


def _announce(kind: str, session: ConsoleSession, **extra) -> None:
    """Tell the tenant's live pages that a console opened or ended (never who holds it: its page says that)."""
    data = {"id": session.pk, "server": session.server_id, "vmid": session.vmid, **extra}
    tenant_event_publish(tenant_id=session.tenant_id, kind=kind, data=data)


def console_session_request(*, user, server: ProxmoxServer, vmid: int, client_ip: str | None) -> ConsoleTicket:
    """Hand out a one-time token, valid for TOKEN_LIFETIME, to open one guest's console."""
    if roles.OPEN_CONSOLE not in guest_permissions(user, server, vmid):
        raise ApplicationError("You may not open this guest's console.", status=403, code="forbidden")
    if not server.tenant.console_enabled:
        raise ApplicationError("Consoles are turned off for this tenant.", status=403, code="console_disabled")
    if not redis_answers():
        # The console could not be ended or withdrawn at once: no Proxmox ticket and no record until it returns.
        raise ApplicationError(
            "Consoles are temporarily unavailable.", status=503, code="console_unavailable", retry_after=5
        )
    guest = server_guest(server=server, vmid=vmid, fresh=True)
    if guest.status != "running":
        raise ApplicationError(f"{guest.name} is not running.", status=409, code="guest_not_running")
    token = secrets.token_urlsafe(32)
    session = ConsoleSession.objects.create(
        user=user,
        tenant=server.tenant,
        server=server,
        node=guest.node,
        guest_type=guest.type,
        vmid=guest.vmid,
        guest_name=guest.name,
        token_hash=_token_hash(token),
        token_expires_at=timezone.now() + TOKEN_LIFETIME,
        client_ip=client_ip,
    )
    _audit("console requested", session, actor=user, client_ip=client_ip, guest=guest.name)
    return ConsoleTicket(session=session, token=token)


def console_session_claim(
    *, token: str, user, channel_name: str, client_ip: str | None, login_key: str | None = None
) -> ConsoleSession | None:
    """Use a token once. None when it is unknown, used, expired, someone else's, or no longer allowed.

    `login_key` is the key of the login session the WebSocket came with: logging out of it ends the console."""
    if not user.is_authenticated or not token:
        return None
    now = timezone.now()
    with transaction.atomic():
        # Compare-and-swap: of two connections racing with one token, exactly one wins.
        claimed = ConsoleSession.objects.filter(
            token_hash=_token_hash(token),
            user=user,
            opened_at__isnull=True,
            closed_at__isnull=True,  # ended by an administrator before it was used
            token_expires_at__gt=now,
        ).update(opened_at=now, last_seen_at=now, channel_name=channel_name, login_hash=login_hash(login_key))
        if not claimed:
            return None
        session = ConsoleSession.objects.select_related("user", "server__tenant", "tenant").get(
            token_hash=_token_hash(token)
        )
    if not _still_allowed(session):
        console_session_release(session=session, reason=CloseReason.FORBIDDEN)  # no relay will run
        return None
    _audit("console opened", session, actor=user, client_ip=client_ip)
    _announce("console.opened", session)
    return session


def _still_allowed(session: ConsoleSession) -> bool:
    """Whether the session's user may still open its console: their account, the tenant's and the server's state,
    the tenant's console switch, and their role or grant on the server or on this guest (through the choke point,
    never assumed)."""
    return (
        session.user.is_active
        and session.server.is_active
        and session.tenant.console_enabled
        and roles.OPEN_CONSOLE in guest_permissions(session.user, session.server, session.vmid)
    )


def console_session_close(
    *, session: ConsoleSession, reason: CloseReason, bytes_to_client: int = 0, bytes_to_server: int = 0
) -> bool:
    """Record the end of a session; False when an end was recorded before, which stands (an administrator's End is
    recorded at once, and the relay's own close that follows only adds the byte counts)."""
    sessions = ConsoleSession.objects.filter(pk=session.pk)
    counts = {"bytes_to_client": bytes_to_client, "bytes_to_server": bytes_to_server}
    ended = sessions.filter(closed_at__isnull=True).update(
        closed_at=timezone.now(), close_reason=reason.name.lower(), **counts
    )
    if ended:
        _announce("console.ended", session, reason=reason.name.lower())
    elif bytes_to_client or bytes_to_server:
        sessions.update(**counts)
    return bool(ended)


def console_session_release(
    *, session: ConsoleSession, reason: CloseReason, bytes_to_client: int = 0, bytes_to_server: int = 0
) -> bool:
    """The relay's own close, whatever ended it (the browser, Proxmox, an End, the process shutting down): the end
    is recorded as console_session_close does, and the session no longer has a relay to tell."""
    with transaction.atomic():
        ended = console_session_close(
            session=session, reason=reason, bytes_to_client=bytes_to_client, bytes_to_server=bytes_to_server
        )
        ConsoleSession.objects.filter(pk=session.pk).update(channel_name="")
    return ended


def console_session_heartbeat(*, session: ConsoleSession) -> CloseReason | None:
    """The relay's beat: records that it lives; answers why it must end when its record was closed meanwhile, or
    deleted (with its user, tenant or server), and None while the session goes on."""
    if ConsoleSession.objects.open().filter(pk=session.pk).update(last_seen_at=timezone.now()):
        return None
    record = ConsoleSession.objects.filter(pk=session.pk).values_list("close_reason", flat=True).first()
    if record is None:
        return CloseReason.WITHDRAWN
    return CloseReason[record.upper()] if record else CloseReason.ERROR


def console_sessions_close_stale() -> int:
    """Close the records no relay will close: tokens that expired unused, and sessions whose relay stopped beating
    (its process died), recorded as RELAY_LOST. Returns how many."""
    now = timezone.now()
    unused = ConsoleSession.objects.filter(opened_at__isnull=True, closed_at__isnull=True, token_expires_at__lte=now)
    expired = unused.update(closed_at=now, close_reason=CloseReason.TOKEN_EXPIRED.name.lower())
    silent = Q(last_seen_at__lt=now - HEARTBEAT_LOST) | Q(last_seen_at__isnull=True, opened_at__lt=now - HEARTBEAT_LOST)
    with transaction.atomic():
        lost = (
            ConsoleSession.objects.open()
            .filter(silent)
            .update(closed_at=now, close_reason=CloseReason.RELAY_LOST.name.lower(), channel_name="")
        )
        # Ended by an End or a withdrawal whose relay then died with its process: nothing is left to tell.
        ConsoleSession.objects.closed().filter(silent).exclude(channel_name="").update(channel_name="")
    return expired + lost


def _tell_consumer(session: ConsoleSession, reason: CloseReason) -> bool:
    """Ask the session's consumer, wherever it runs, to close both sides with `reason`. False when the channel layer
    could not carry the message: the relay then learns it from its record on its next heartbeat."""
    if not session.channel_name:
        return True
    message = {"type": TERMINATE_MESSAGE, "reason": reason.name}
    try:
        async_to_sync(get_channel_layer().send)(session.channel_name, message)
    except Exception as error:  # whatever the layer's backend raises (Redis down, timed out)
        logger.warning("console session %s: the channel layer could not carry the end: %r", session.pk, error)
        return False
    return True


def console_session_terminate(*, session: ConsoleSession, actor, client_ip: str | None = None) -> None:
    """End a session: recorded as ended at once; its consumer gets a control message and closes both sides (or,
    when the channel layer is down, learns it from the record on its next heartbeat). Ending a session already
    ended sends the message again while its relay lives; once the relay is gone it is refused."""
    ended = console_session_close(session=session, reason=CloseReason.TERMINATED)
    if not ended:
        session.refresh_from_db(fields=["channel_name", "closed_at"])
        if not session.channel_name:
            raise ApplicationError("This console session has already ended.", status=409, code="already_closed")
    delivered = _tell_consumer(session, CloseReason.TERMINATED)
    _audit(
        "console terminated",
        session,
        actor=actor,
        client_ip=client_ip,
        user=session.user.get_username(),
        **({} if ended else {"repeated": True}),
        **({} if delivered else {"told_by": "heartbeat"}),
    )


def _withdraw(session: ConsoleSession, why: str) -> bool:
    if not console_session_close(session=session, reason=CloseReason.WITHDRAWN):
        return False  # ended meanwhile
    _tell_consumer(session, CloseReason.WITHDRAWN)
    audit_record(
        action="console withdrawn",
        tenant=session.tenant,
        target=f"{session.server.name}/{session.guest_type}/{session.vmid}",
        details={"session": session.pk, "user": session.user.get_username(), "why": why},
    )
    return True


def console_sessions_withdraw(*, sessions: QuerySet) -> int:
    """End those of `sessions` still open whose user may no longer open them (re-checked one by one through the
    choke point); returns how many ended. Called whenever access is taken away (console.receivers)."""
    candidates = sessions.open().select_related("user", "server__tenant", "tenant")
    return sum(_withdraw(session, "access withdrawn") for session in candidates if not _still_allowed(session))


def console_sessions_end_login(*, user, session_key: str | None) -> int:
    """End the consoles opened from one login session (the user logged out of it); returns how many ended."""
    if not session_key:
        return 0
    sessions = ConsoleSession.objects.open().filter(user=user, login_hash=login_hash(session_key))
    return sum(_withdraw(session, "logged out") for session in sessions.select_related("user", "server", "tenant"))


def console_sessions_end_other_logins(*, user, kept_session_key: str | None, new_session_key: str | None) -> int:
    """The user's password changed, which ended every login but the one that changed it (its key was
    `kept_session_key`, now `new_session_key`; None after a reset): end the consoles of the others, and let those
    of the kept login end when it logs out. Returns how many ended."""
    sessions = ConsoleSession.objects.open().filter(user=user)
    if kept_session_key:
        kept = list(sessions.filter(login_hash=login_hash(kept_session_key)).values_list("pk", flat=True))
        ConsoleSession.objects.filter(pk__in=kept).update(login_hash=login_hash(new_session_key))
        sessions = sessions.exclude(pk__in=kept)
    return sum(
        _withdraw(session, "password changed") for session in sessions.select_related("user", "server", "tenant")
    )


def console_sessions_end_now(*, sessions) -> None:
    """Tell the consumers of open `sessions` to close at once: their records are about to be deleted with
    their user, server or tenant, so nothing is re-checked or recorded."""
    for session in sessions:
        _tell_consumer(session, CloseReason.WITHDRAWN)
