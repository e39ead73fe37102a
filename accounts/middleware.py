"""The two-factor gate: a browser session that has not passed the second factor its account needs does nothing
but enrol one (or log out).

- An account with an authenticator whose session did not use it (a login that went around the two steps) is
  logged out and sent to the login.
- An account that a policy requires to use a second factor (the platform's, or one of its tenants') and that has
  none yet is taken to enrolment: every page sends it there, the API answers 403.

API tokens are not affected: a token request carries no session, so its user is anonymous here.
"""

from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from nexus.api import error_body
from nexus.middleware import API_PREFIX

from .selectors import has_authenticator, session_passed_two_factor, two_factor_required

# What a person who must enrol may still reach: enrolment itself, logging out, and what pages load.
OPEN_PREFIXES = ("/account/security/", "/accounts/logout/", "/accounts/login/", "/static/", "/favicon.ico")


def two_factor_gate(get_response):
    def middleware(request):
        user = request.user
        if not user.is_authenticated or request.path.startswith(OPEN_PREFIXES) or session_passed_two_factor(request):
            return get_response(request)
        if has_authenticator(user):
            logout(request)
            return _refuse(request, "Log in again, with your second factor.", "second_factor_required", "login")
        if two_factor_required(user):
            return _refuse(
                request,
                "Two-factor authentication is required for your account: enrol an authenticator first.",
                "two_factor_enrolment_required",
                "accounts:security",
            )
        return get_response(request)

    return middleware


def _refuse(request, message: str, code: str, page: str):
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body(message, code), status=403)
    return redirect(reverse(page))
