from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .services import tenant_choose


@login_required
@require_POST
def tenant_switch(request):
    """The header's tenant switcher: remember the choice, then back to the page the user was on."""
    if not tenant_choose(request=request, slug=request.POST.get("tenant", "")):
        raise Http404("No such tenant.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return redirect(target)
