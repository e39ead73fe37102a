from .selectors import tenants_for_new_servers


def server_nav(request):
    """Whether the top bar links to the server management page."""
    # A callable: templates call it, so pages that do not show the top bar make no query.
    return {"manages_servers": lambda: tenants_for_new_servers(request.user).exists()}
