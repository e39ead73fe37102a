class ApplicationError(Exception):
    """A refusal or failure the user should read: turned into a JSON error by nexus.api.exception_handler."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, code: str = "error", retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after  # seconds, for a passing outage (503): sent as Retry-After
        if status is not None:
            self.status = status
