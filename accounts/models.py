import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device
from knox.models import AbstractAuthToken

from nexus import crypto
from tenants.roles import Role


class ApiToken(AbstractAuthToken):
    """A personal API token (django-rest-knox): only a SHA-512 digest of the key and its first characters are
    stored; the key itself is shown once, when it is made. It acts with its owner's permissions, and stops working
    when it expires, is revoked, or its owner is deactivated."""

    # An id of its own, so URLs and lists never carry the digest.
    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=100)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


# ------------------------------------------------------------------------------------------ two-factor authentication


class RecoveryCodes(Device):
    """A user's one-time recovery codes as one django-otp device: each code is stored as a SHA-256 digest only
    (they are 80 random bits each, so a fast digest cannot be reversed, as with API tokens), and each works once."""

    class Meta:
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def verify_token(self, token) -> bool:
        digest = recovery_code_digest(str(token))
        # A conditional update claims the code, so two requests cannot both spend it.
        return bool(self.codes.filter(digest=digest, used_at=None).update(used_at=timezone.now()))

    @property
    def remaining(self) -> int:
        return self.codes.filter(used_at=None).count()


def recovery_code_digest(code: str) -> str:
    """The stored form of a recovery code: spaces, dashes and case do not matter when it is typed."""
    normalised = "".join(code.split()).replace("-", "").upper()
    return hashlib.sha256(normalised.encode()).hexdigest()


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodes, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "digest"], name="one_recovery_code_per_digest")]

    def __str__(self) -> str:
        return f"recovery code of {self.device.user}"


class PlatformSecurity(models.Model):
    """The platform's sign-in policy, one row, changed by platform admins in the Django admin."""

    require_two_factor_for_platform_admins = models.BooleanField(
        default=False, help_text="Platform admins must use a second factor (TOTP or a passkey) to log in."
    )
    require_two_factor_for_everyone = models.BooleanField(
        default=False,
        help_text="Every account must use a second factor, platform admins included. Those without one are taken "
        "to enrolment after their next login and can do nothing else until they have enrolled.",
    )

    class Meta:
        verbose_name = "platform security policy"
        verbose_name_plural = "platform security policy"

    def __str__(self) -> str:
        return "Platform security policy"

    def save(self, *args, **kwargs):
        self.pk = 1  # one policy
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "PlatformSecurity":
        return cls.objects.filter(pk=1).first() or cls()


# ------------------------------------------------------------------------------------------------ single sign-on


def _space_separated(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


class OidcProvider(models.Model):
    """An OpenID Connect identity provider people may log in with; configured by platform admins in the admin."""

    name = models.CharField(max_length=100, help_text="Shown on the login button: “Log in with <name>”.")
    slug = models.SlugField(max_length=50, unique=True, help_text="Part of the redirect URI registered with it.")
    issuer = models.URLField(help_text="The issuer URL; its /.well-known/openid-configuration describes the provider.")
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField(editable=False)
    scopes = models.CharField(max_length=255, default="openid email profile")
    groups_claim = models.CharField(
        max_length=100, default="groups", help_text="The claim that lists the user's groups, for group mappings."
    )
    is_active = models.BooleanField(default=True, help_text="Shown on the login page and accepted.")
    create_users = models.BooleanField(
        default=False, help_text="Create an account on a person's first login (else only linked accounts log in)."
    )
    match_verified_email = models.BooleanField(
        default=False,
        help_text="Link a first login to the existing account with the same e-mail address, when the provider "
        "says the address is verified. Only for a provider you trust to verify addresses.",
    )
    password_login_disabled_domains = models.CharField(
        max_length=500,
        blank=True,
        help_text="E-mail domains (space-separated) whose accounts must log in through this provider: their "
        "password login is turned off. Platform admins keep theirs, to repair a broken provider.",
    )
    mfa_amr_values = models.CharField(
        max_length=255,
        default="mfa otp hwk swk sc",
        blank=True,
        help_text="`amr` values (space-separated) that mean the provider checked a second factor.",
    )
    mfa_acr_values = models.CharField(
        max_length=255, blank=True, help_text="`acr` values (space-separated) that mean a second factor was checked."
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "OpenID Connect provider"

    def __str__(self) -> str:
        return self.name

    @property
    def client_secret(self) -> str:
        return crypto.decrypt(self.client_secret_encrypted)

    @client_secret.setter
    def client_secret(self, plaintext: str) -> None:
        self.client_secret_encrypted = crypto.encrypt(plaintext)

    @property
    def domains(self) -> list[str]:
        return [domain.lower().lstrip("@") for domain in _space_separated(self.password_login_disabled_domains)]

    def claims_mfa(self, claims: dict) -> bool:
        """Whether the provider says this login used a second factor (`amr` or `acr`)."""
        amr = claims.get("amr") or []
        if isinstance(amr, str):
            amr = [amr]
        return bool(set(amr) & set(_space_separated(self.mfa_amr_values))) or (
            bool(claims.get("acr")) and claims.get("acr") in _space_separated(self.mfa_acr_values)
        )


class OidcIdentity(models.Model):
    """Which local account a provider's subject is: people are matched by `sub`, never by a name they can change."""

    provider = models.ForeignKey(OidcProvider, on_delete=models.CASCADE, related_name="identities")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities")
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OpenID Connect identity"
        verbose_name_plural = "OpenID Connect identities"
        constraints = [models.UniqueConstraint(fields=["provider", "subject"], name="one_user_per_subject")]

    def __str__(self) -> str:
        return f"{self.provider}: {self.subject} is {self.user}"


class GroupMapping(models.Model):
    """A provider's group, as its group claim names it, makes its members members of a tenant with a role."""

    provider = models.ForeignKey(OidcProvider, on_delete=models.CASCADE, related_name="group_mappings")
    group = models.CharField(max_length=255, help_text="A value of the provider's group claim, e.g. it-staff.")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="group_mappings")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider__name", "group"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "group", "tenant"], name="one_mapping_per_group_and_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.provider} group {self.group} -> {self.get_role_display().lower()} of {self.tenant}"

    def get_additional_data(self) -> dict:
        return {"tenant": self.tenant_id}


class SsoMembership(models.Model):
    """A membership that a provider's group mapping made: at each login it follows the claims, and goes with
    the group. Memberships made by hand are never touched by a login."""

    provider = models.ForeignKey(OidcProvider, on_delete=models.CASCADE, related_name="memberships")
    membership = models.OneToOneField("tenants.Membership", on_delete=models.CASCADE, related_name="sso")

    def __str__(self) -> str:
        return f"{self.membership} (through {self.provider})"
