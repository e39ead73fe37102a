from .selectors import console_sessions_manageable


def console_nav(request):
    """Whether the top bar links to the console sessions page."""
    # A callable: templates call it, so pages that do not show the top bar make no query.
    return {"manages_consoles": lambda: console_sessions_manageable(request.user)}
