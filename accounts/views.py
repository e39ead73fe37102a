"""Account pages: API tokens, password change and reset, and the operators' list of users."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from nexus.errors import ApplicationError
from nexus.http import client_ip

from .forms import ApiTokenForm, ResetForm
from .ratelimit import rate_limited
from .selectors import api_token_of, api_tokens_of, users_for_operator
from .services import api_token_create, api_token_revoke, user_delete

# Password reset mails one address may ask for, and reset requests one client address may make, per window.
RESET_LIMIT_PER_EMAIL = 3
RESET_LIMIT_PER_ADDRESS = 10
RESET_WINDOW = 3600
# Attempts on the change form (each checks the current password) before it stops checking for a while, as the
# login does: a stolen session must not become a way to guess the password.
CHANGE_ATTEMPT_LIMIT = 5
CHANGE_WINDOW = 15 * 60


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def tokens_page(request):
    """The user's API tokens; a new one's key is shown on this answer only."""
    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.expires_at(),
                client_ip=client_ip(request),
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            form = ApiTokenForm()
    context = {"form": form, "tokens": api_tokens_of(request.user), "new_key": new_key}
    response = render(request, "accounts/tokens.html", context, status=201 if new_key else 200)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = api_token_of(request.user, token_id)
    api_token_revoke(token=token, actor=request.user, client_ip=client_ip(request))
    messages.success(request, f"Revoked the token {token.name}: it no longer works.")
    return redirect("accounts:tokens")


@method_decorator(require_http_methods(["GET", "HEAD", "POST"]), name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password-change")

    def post(self, request, *args, **kwargs):
        if rate_limited(f"password-change:{request.user.pk}", limit=CHANGE_ATTEMPT_LIMIT, window=CHANGE_WINDOW):
            messages.error(request, "Too many attempts. Try again in a few minutes.")
            return self.render_to_response(self.get_context_data(), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this login; every other session of the account ends
        messages.success(self.request, "Your password was changed.")
        return response


@method_decorator(require_http_methods(["GET", "HEAD", "POST"]), name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an e-mail address and mails a one-time link; says the same whether the address is known or not."""

    form_class = ResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-sent")

    def form_valid(self, form):
        email = form.cleaned_data["email"].lower()
        over = rate_limited(f"reset-email:{email}", limit=RESET_LIMIT_PER_EMAIL, window=RESET_WINDOW)
        over |= rate_limited(f"reset-ip:{client_ip(self.request)}", limit=RESET_LIMIT_PER_ADDRESS, window=RESET_WINDOW)
        if over:
            form.add_error(None, "Too many reset requests. Try again later.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


@method_decorator(require_http_methods(["GET", "HEAD", "POST"]), name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The one-time link of a reset or an invitation: the person chooses a password, then logs in."""

    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("accounts:password-reset-done")


@login_required
@require_safe
def users_page(request):
    """Every account, for platform admins, with deletion."""
    return render(request, "accounts/users.html", {"users": users_for_operator(request.user)})


@login_required
@require_POST
def user_delete_view(request, user_id: int):
    user = get_object_or_404(users_for_operator(request.user), pk=user_id)
    try:
        user_delete(user=user, actor=request.user, client_ip=client_ip(request))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Deleted the account {user.get_username()}; its audit history stays.")
    return redirect("accounts:users")
