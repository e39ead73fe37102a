"""OpenID Connect with authlib: the one module that speaks to identity providers.

authlib does the protocol: discovery, the authorization redirect with state, nonce and PKCE, the code exchange,
and the ID token's validation (signature against the provider's JWKS, issuer, audience, expiry, nonce). This module
only configures it per provider and turns its failures into words.
"""

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from joserfc.errors import JoseError
from requests import RequestException

from nexus.errors import ApplicationError

from .models import OidcProvider


class ProviderUnreachable(ApplicationError):
    pass


def _client(provider: OidcProvider):
    registry = OAuth()  # one per use: providers change in the admin, and nothing stale is kept
    return registry.register(
        name=provider.slug,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=provider.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": provider.scopes,
            "code_challenge_method": "S256",
            "default_timeout": settings.OIDC_TIMEOUT,
        },
    )


def _metadata(provider: OidcProvider, client) -> dict:
    try:
        metadata = client.load_server_metadata()
    except (RequestException, ValueError) as error:
        raise ProviderUnreachable(
            f"{provider.name} cannot be reached ({type(error).__name__}); try again later, or log in with your "
            "password where you have one.",
            status=502,
            code="provider_unreachable",
        ) from None
    if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer.rstrip("/"):
        raise ApplicationError(
            f"{provider.name} names itself {metadata.get('issuer')!r}, not the configured issuer.",
            status=502,
            code="provider_misconfigured",
        )
    return metadata


def authorize_redirect(request, provider: OidcProvider, redirect_uri: str):
    """The redirect to the provider's login; its state, nonce and PKCE verifier wait in the session."""
    client = _client(provider)
    _metadata(provider, client)
    return client.authorize_redirect(request, redirect_uri)


def authorize_callback(request, provider: OidcProvider) -> tuple[dict, dict, str]:
    """The provider's answer checked: returns the ID token's claims, all claims (the userinfo endpoint's added
    where the provider has one) and the ID token itself (for the logout). Refuses a token with a bad signature,
    another audience or issuer, or an expired one."""
    client = _client(provider)
    metadata = _metadata(provider, client)
    try:
        token = client.authorize_access_token(request)
        id_claims = dict(token.get("userinfo") or {})
        if not id_claims.get("sub"):
            raise ApplicationError(f"{provider.name} sent no ID token.", status=502, code="sso_failed")
        claims = dict(id_claims)
        if metadata.get("userinfo_endpoint"):
            userinfo = dict(client.userinfo(token=token))
            if userinfo.get("sub") == id_claims["sub"]:
                claims.update(userinfo)
    except RequestException as error:
        raise ProviderUnreachable(
            f"{provider.name} stopped answering during the login ({type(error).__name__}); try again.",
            status=502,
            code="provider_unreachable",
        ) from None
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as error:
        raise ApplicationError(
            f"The login with {provider.name} was refused: {_describe(error)}.", status=400, code="sso_failed"
        ) from None
    return id_claims, claims, token.get("id_token", "")


def _describe(error) -> str:
    return getattr(error, "description", None) or getattr(error, "error", None) or str(error) or type(error).__name__


def logout_url(provider: OidcProvider, *, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's end-session URL (RP-initiated logout); None where it has none or cannot be reached."""
    client = _client(provider)
    try:
        metadata = _metadata(provider, client)
    except ApplicationError:
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    return client.create_logout_url(
        post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token, client_id=provider.client_id
    )["url"]
